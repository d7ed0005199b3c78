"""Dataclass configs from a JSON/YAML file plus ``key=value`` overrides (dotted keys for nesting).

One implementation serves the CLI (:func:`load_config`, strict against a dataclass's defaults) and the
stage-training config (``audiolm_lib.training.config.load_stage_config``, whose ``model`` section is free-form).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def read_config_file(path: str | os.PathLike) -> dict:
    """The mapping stored in a ``.json`` or ``.yaml``/``.yml`` file (an empty YAML file is ``{}``)."""
    from audiolm_lib.inputs import parse_json, parse_yaml, read_text

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config file not found: {path}")
    text = read_text(path, "config file")  # a regular file of at most 4 MB (a FIFO would block)
    if path.suffix.lower() in (".yaml", ".yml"):
        loaded = parse_yaml(text, f"config file {path}") or {}  # no aliases: no expansion bombs
    else:
        loaded = parse_json(text, f"config file {path}")
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a mapping of config fields, got {type(loaded).__name__}")
    return loaded


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"model.transformer.dim=64"`` -> ``(["model", "transformer", "dim"], 64)``; values parsed as JSON if possible."""
    if "=" not in item:
        raise ValueError(f"override {item!r} is not of the form key=value")
    key, raw = item.split("=", 1)
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        value = raw
    parts = key.strip().split(".")
    if not all(parts):
        raise ValueError(f"override {item!r} has an empty key")
    return parts, value


def apply_override(data: dict, item: str, *, strict: bool = True) -> None:
    """Set one ``key=value`` override in the nested mapping ``data`` (in place).

    ``strict``: every section and the leaf field must already exist in ``data`` (a dataclass's defaults),
    so a typo is an error naming the known fields; otherwise missing sections are created.
    """
    parts, value = parse_override(item)
    target = data
    for part in parts[:-1]:
        if strict and not isinstance(target.get(part), dict):
            raise ValueError(f"override {item!r}: {part!r} is not a config section")
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ValueError(f"override {item!r}: {part!r} is not a config section")
    if strict and parts[-1] not in target:
        raise ValueError(f"override {item!r}: unknown field {parts[-1]!r} (fields: {sorted(target)})")
    target[parts[-1]] = value


def deep_update(base: dict, new: dict) -> None:
    """Merge ``new`` into ``base`` in place, descending into sections both have."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value


def load_config(cls: type[T], path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> T:
    """Build dataclass ``cls`` from its defaults, a JSON/YAML file and ``key=value`` overrides, in that order.

    Override values are parsed as JSON when possible (``lr=3e-4``, ``betas=[0.9,0.95]``), else kept as text.
    Renamed fields (``cls.RENAMED_FIELDS``) are read under their old names too, with a ``DeprecationWarning``.
    """
    from audiolm_lib.serialization import config_from_dict, renamed_fields

    data: dict[str, Any] = dataclasses.asdict(cls())
    if path is not None:
        deep_update(data, renamed_fields(cls, read_config_file(path), str(path)))
    renamed = getattr(cls, "RENAMED_FIELDS", {})
    for item in overrides or []:
        key, _, value = item.partition("=")
        if key.strip() in renamed:  # an old field name: warned about, read as the new one
            renamed_fields(cls, {key.strip(): None}, "command line")
            item = f"{renamed[key.strip()]}={value}"
        apply_override(data, item, strict=True)
    return config_from_dict(cls, data, source=str(path) if path else "command line")
