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
        except (AudioError, CheckpointError, OSError, ValueError) as exc:  # OSError: FileNotFound, IsADirectory...
            _fail(_one_line(exc))
        except RecursionError:
            _fail("an input is nested too deeply to read")
        except MemoryError:
            _fail("out of memory (an input asks for more than this machine has)")

    return wrapper


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2) from None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return " ".join(str(exc).split()) or type(exc).__name__


def check_seconds(option: str, value: float | None, high: float | None = None) -> None:
    """``value`` (if given) must be a positive, finite number of seconds, at most ``high`` (default
    :data:`~audiolm_lib.limits.MAX_SECONDS`); else a ValueError naming ``option``."""
    from audiolm_lib.limits import MAX_SECONDS, check_length

    check_length(option, value, high=MAX_SECONDS if high is None else high)


def check_number(option: str, value: float | None, low: float, high: float, *, open_low: bool = False) -> None:
    """``value`` (if given) must be finite and in ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    if value is None:
        return
    if not (math.isfinite(value) and (value > low if open_low else value >= low) and value <= high):
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}]"
        raise ValueError(f"{option} must be a finite number in {interval}, got {value}")


def check_device(device: str | None, option: str = "--device") -> None:
    """``cpu``, ``auto``, ``cuda`` / ``cuda:N`` where CUDA is available; else a ValueError naming ``option``."""
    if device is None or device in ("cpu", "auto"):
        return
    if device == "cuda" or device.startswith("cuda:"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"{option} {device}: CUDA is not available on this machine (use --device cpu)")
        index = device.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ValueError(f"{option} {device}: no such CUDA device ({torch.cuda.device_count()} present)")
        return
    raise ValueError(f"{option} must be cpu, cuda or auto, got {device!r}")
