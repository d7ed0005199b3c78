"""Helpers shared by the CLI command modules: clean error reporting and config loading."""
from __future__ import annotations

import functools
import math
from typing import Callable

import typer

from audiolm_lib.config import load_config  # noqa: F401  (re-exported: the command modules load configs from here)


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


def check_seconds(option: str, value: float | None) -> None:
    """``value`` (if given) must be a positive, finite number of seconds; else a ValueError naming ``option``."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{option} must be a positive, finite number of seconds, got {value}")
