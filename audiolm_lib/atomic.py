"""Atomic file writes (temp file beside the target, fsync, rename), without importing torch.

A reader of the target sees the old file or the whole new one, never a part: concurrent writers each
rename their own complete temp file, and a full disk, an error or ``kill -9`` mid-write leaves the target
as it was. A killed writer's temp file (``.~audiolm.<pid>.<random>.<name>.tmp``: a prefix only this library
uses, so a user's own ``*.tmp`` files are never taken for one) is stale once that process is gone;
:func:`remove_stale_temps` deletes such files.

Torch-free on purpose: the dataset builders' worker processes use these and should start in well under a
second. ``audiolm_lib.serialization`` re-exports both writers.
"""
from __future__ import annotations

import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Callable

TEMP_PREFIX = ".~audiolm."
TEMP_SUFFIX = ".tmp"
# .~audiolm.<writer pid>.<random>.<target name>.tmp
_TEMP_NAME = re.compile(r"^\.~audiolm\.(?P<pid>\d+)\.[a-z0-9_]+\.(?P<target>.+)\.tmp$")


def temp_file(folder: str | os.PathLike, target: str) -> str:
    """Create an empty temp file for ``target`` in ``folder`` under the library's own naming; returns its path."""
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}.", suffix=f".{target}{TEMP_SUFFIX}", dir=folder)
    os.close(fd)
    return tmp


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temp file name of :func:`atomic_write` (and never a user's file)."""
    return _TEMP_NAME.match(name) is not None


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then atomically rename the temp file onto ``path`` (folders are created).

    A crash or error mid-write leaves ``path`` as it was, and the temp file is removed. The new file gets
    the old file's permissions, or the usual ``0o666 & ~umask`` for a new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_file(path.parent, path.name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _target_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_folder(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)

    return atomic_write(path, write)


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append ``line`` (a newline is added) to a log file in one ``write`` call on an ``O_APPEND`` descriptor.

    Logs grow by appending (rewriting them whole per row would cost quadratic time); one write per line keeps
    concurrent appends from interleaving, and a line cut by a crash is only ever the last one, which the
    readers skip with a warning (:func:`read_lines`).
    """
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
    finally:
        os.close(fd)


def read_lines(path: str | os.PathLike, is_valid: Callable[[str], bool], what: str = "log") -> list[str]:
    """Non-empty lines of a log written by :func:`append_line`.

    A torn last line (no final newline, or one that fails ``is_valid``) is skipped with a warning naming the
    file; an invalid line before the last raises ``ValueError`` naming the file and line.
    """
    from audiolm_lib.inputs import MAX_MANIFEST_BYTES, read_text

    path = Path(path)
    lines = read_text(path, what, max_bytes=MAX_MANIFEST_BYTES, errors="replace").split("\n")  # regular, bounded
    torn = lines.pop()  # "" when the file ends with a newline, else a line cut short
    last = max((n for n, line in enumerate(lines, start=1) if line.strip()), default=0)
    kept = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if is_valid(line):
            kept.append(line)
        elif number == last and not torn.strip():
            warnings.warn(f"{path}: skipping torn last line {number} (an interrupted write)", stacklevel=2)
        else:
            raise ValueError(f"{path}, line {number}: not a valid {what} line: {line[:80]!r}")
    if torn.strip():
        warnings.warn(f"{path}: skipping torn last line {len(lines) + 1} (an interrupted write; no newline)",
                      stacklevel=2)
    return kept


def stale_temp_files(directory: str | os.PathLike, target: str | None = None) -> list[Path]:
    """Temp files of :func:`atomic_write` in ``directory`` (for ``target``'s name only, if given) whose
    writer process no longer exists. Only the library's own naming counts: a user's ``*.tmp`` is never one."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    stale = []
    for path in directory.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        match = _TEMP_NAME.match(path.name)
        if match is None or (target is not None and match.group("target") != target) or not path.is_file():
            continue
        if not _process_alive(int(match.group("pid"))):
            stale.append(path)
    return sorted(stale)


def remove_stale_temps(directory: str | os.PathLike, target: str | None = None) -> list[Path]:
    """Delete :func:`stale_temp_files` (partials of writes that were killed); returns what was removed."""
    removed = []
    for path in stale_temp_files(directory, target):
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:
        return True
    return True


def _target_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    try:  # read without changing it (os.umask sets it: a race with other threads)
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
