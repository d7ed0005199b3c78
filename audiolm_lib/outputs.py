"""Output paths checked before any work starts, and the audio formats the library writes.

A command that generates for minutes must not fail at the end because ``-o`` names a directory, a read-only
folder, ``/proc/...`` or a file without a known audio extension. :func:`check_output_file` and
:func:`check_output_dir` find that out first, by creating (and removing) a temp file where the atomic writer
(:mod:`audiolm_lib.atomic`) will put its own, and they remove stale partials of earlier killed writes.
Torch-free.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from audiolm_lib.atomic import TEMP_SUFFIX, remove_stale_temps

# suffix -> (soundfile format, subtype); 16-bit PCM where the format has a choice
AUDIO_WRITE_FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
}


class OutputPathError(ValueError):
    """An output path that cannot be written, or names an unknown format."""


def audio_write_format(path: str | os.PathLike) -> tuple[str, str]:
    """``(format, subtype)`` for writing ``path``, from its suffix; :class:`OutputPathError` otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in AUDIO_WRITE_FORMATS:
        known = ", ".join(AUDIO_WRITE_FORMATS)
        what = f"extension {suffix!r}" if suffix else "no extension"
        raise OutputPathError(f"cannot write audio to {path}: {what}; use one of {known}")
    return AUDIO_WRITE_FORMATS[suffix]


def check_output_file(path: str | os.PathLike, suffixes: Iterable[str] | None = None, what: str = "output") -> Path:
    """Make sure ``path`` can be written atomically later; returns it.

    Checks the extension (if ``suffixes`` is given), that ``path`` is not a directory or special file, and
    that its folder (created if missing) accepts a new file; removes stale temp files of ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{what} {path} is a directory; give a file name")
    if path.exists() and not path.is_file():
        raise OutputPathError(f"{what} {path} is not a regular file (a device, FIFO or socket)")
    if suffixes is not None:
        allowed = tuple(s.lower() for s in suffixes)
        if path.suffix.lower() not in allowed:
            detail = f"extension {path.suffix!r}" if path.suffix else "no extension"
            raise OutputPathError(f"{what} {path}: {detail}; use one of {', '.join(allowed)}")
    _probe_folder(path.parent, what, path)
    remove_stale_temps(path.parent, path.name)
    return path


def check_output_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Make sure folder ``path`` exists (it is created) and accepts new files; returns it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{what} {path} exists and is not a folder")
    _probe_folder(path, what, path)
    return path


def _probe_folder(folder: Path, what: str, target: Path) -> None:
    folder = folder if str(folder) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputPathError(f"cannot write {what} {target}: {_first_non_folder(folder)} is not a folder") from None
    except OSError as exc:
        raise OutputPathError(f"cannot write {what} {target}: cannot create folder {folder}: "
                              f"{exc.strerror or exc}") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name or 'probe'}.{os.getpid()}-", suffix=TEMP_SUFFIX,
                                     dir=folder)
    except OSError as exc:
        raise OutputPathError(f"cannot write {what} {target}: folder {folder} does not accept new files "
                              f"({exc.strerror or exc})") from None
    os.close(fd)
    os.remove(probe)


def _first_non_folder(folder: Path) -> Path:
    for parent in [*reversed(folder.parents), folder]:
        if parent.exists() and not parent.is_dir():
            return parent
    return folder
