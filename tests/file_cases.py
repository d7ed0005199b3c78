"""Shared by the file-safety corpus (tests/files): the CLI through typer, fixtures, and a hang guard."""
from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from audiolm_lib.cli import build_app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(build_app(), [str(a) for a in args])


def refused(result, *words: str) -> bool:
    """A one-line ``error:`` with exit code 2 (no traceback) that mentions every word."""
    out = result.output
    return (result.exit_code == 2 and out.startswith("error:") and "Traceback" not in out
            and out.count("\n") <= 1 and all(w in out for w in words))


def wav(path: Path, seconds: float = 0.5, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate)
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) -> its sha256: equal snapshots = nothing changed."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def within(seconds: float, func, *args):
    """``func(*args)`` in a thread; if it has not finished after ``seconds`` the FIFOs under the test's folders
    are opened for writing (their readers get EOF, so the thread ends) and an AssertionError says it hung."""
    box: dict = {}

    def run():
        try:
            box["value"] = func(*args)
        except BaseException as exc:  # noqa: BLE001 (re-raised in the test's thread)
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        _release_fifos()
        thread.join(5)
        raise AssertionError(f"{getattr(func, '__name__', func)} blocked for more than {seconds} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


_FIFOS: list[Path] = []


def tracked_fifo(path: Path) -> Path:
    _FIFOS.append(fifo(path))
    return path


def _release_fifos() -> None:
    for path in _FIFOS:
        try:
            if stat.S_ISFIFO(os.stat(path).st_mode):
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
