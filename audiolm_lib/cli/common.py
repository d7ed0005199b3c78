"""Helpers shared by the CLI command modules: clean error reporting and config loading."""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any, Callable, TypeVar

import typer

from audiolm_lib.serialization import config_from_dict

T = TypeVar("T")


def friendly_errors(func: Callable) -> Callable:
    """Turn the library's expected errors into one red line and exit code 2, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from audiolm_lib.audio import AudioError
        from audiolm_lib.serialization import CheckpointError

        try:
            return func(*args, **kwargs)
        except (AudioError, CheckpointError, FileNotFoundError, ValueError) as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=2) from None

    return wrapper


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Build dataclass ``cls`` from a JSON/YAML file and ``key=value`` overrides (dotted keys for nesting).

    Override values are parsed as JSON when possible (``lr=3e-4``, ``betas=[0.9,0.95]``), else kept as text.
    """
    data: dict[str, Any] = dataclasses.asdict(cls())
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"config file not found: {path}")
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            loaded = yaml.safe_load(text) or {}
        else:
            loaded = json.loads(text)
        _deep_update(data, loaded)
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        target = data
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(target.get(part), dict):
                raise ValueError(f"override {key!r}: {part!r} is not a config section")
            target = target[part]
        if leaf not in target:
            raise ValueError(f"override {key!r}: unknown field {leaf!r} (fields: {sorted(target)})")
        target[leaf] = value
    return config_from_dict(cls, data, source=str(path) if path else "command line")


def _deep_update(base: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value
