"""Output paths checked before any work starts, and the audio formats the library writes.

A command that generates for minutes must not fail at the end because ``-o`` names a directory, a read-only
folder, ``/proc/...`` or a file without a known audio extension. :func:`check_output_file` and
:func:`check_output_dir` find that out first, by creating (and removing) a temp file where the atomic writer
(:mod:`audiolm_lib.atomic`) will put its own, and they remove stale partials of earlier killed writes.

They are also the one place every command asks whether writing is safe: an output that is (or holds) one of
the command's inputs is refused (:func:`check_not_input`), and so is an existing non-empty output folder
unless ``--overwrite`` (``--resume``) says so or it is the command's own earlier output. Torch-free.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

from audiolm_lib.atomic import is_temp_name, remove_stale_temps, temp_file

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


def check_not_input(path: str | os.PathLike, inputs: Iterable[str | os.PathLike | None], what: str = "output"
                    ) -> Path:
    """Refuse an output ``path`` that is one of ``inputs`` (the same file through any name: symlinks, hard links,
    ``./``) or a folder holding one of them: writing it would destroy what the command reads."""
    path = Path(path)
    target = path.resolve()
    for given in inputs:
        if given is None or not os.path.lexists(given):  # nothing there to destroy
            continue
        source = Path(given).resolve()
        same = source == target or (path.exists() and Path(given).exists() and _same_file(path, Path(given)))
        if same or target in source.parents:
            relation = "is" if same else "contains"
            raise OutputPathError(f"refusing {what} {path}: it {relation} the input {given}, which writing it would "
                                  "destroy; choose another output path")
    return path


def check_output_file(path: str | os.PathLike, suffixes: Iterable[str] | None = None, what: str = "output",
                      inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Make sure ``path`` can be written atomically later; returns it.

    Checks the extension (if ``suffixes`` is given), that ``path`` is none of ``inputs``
    (:func:`check_not_input`), not a directory or special file, and that its folder (created if missing)
    accepts a new file; removes stale temp files of ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{what} {path} is a directory; give a file name")
    check_not_input(path, inputs, what)
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


def check_output_dir(path: str | os.PathLike, what: str = "output folder", *,
                     inputs: Iterable[str | os.PathLike | None] = (), fresh: bool = False, overwrite: bool = False,
                     ours: Callable[[Path], bool] | None = None, flag: str | None = "--overwrite") -> Path:
    """Make sure folder ``path`` exists (it is created) and accepts new files; returns it.

    ``inputs``: paths the command reads; ``path`` may be none of them nor hold one (:func:`check_not_input`).
    ``fresh``: an existing non-empty folder is refused (a user's files there could be replaced) unless
    ``overwrite`` is set or ``ours(path)`` says it is this command's own earlier output (one it resumes);
    ``flag`` is the option the refusal names (``None``: there is none). Nothing is created before every check passed.
    """
    path = check_not_input(path, inputs, what)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{what} {path} exists and is not a folder")
    if fresh and not overwrite and path.is_dir() and any(path.iterdir()) and not (ours is not None and ours(path)):
        anyway = f", or pass {flag} to write into it anyway (files of the same names are replaced)" if flag else ""
        raise OutputPathError(f"{what} {path} exists and is not empty; choose a new folder{anyway}")
    _probe_folder(path, what, path)
    return path


def holds_only(*names: str) -> Callable[[Path], bool]:
    """An ``ours`` test for :func:`check_output_dir`: the folder holds nothing but entries of these names
    (and the library's own temp files)."""
    return lambda folder: all(p.name in names or is_temp_name(p.name) for p in folder.iterdir())


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


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
        probe = temp_file(folder, target.name or "probe")
    except OSError as exc:
        raise OutputPathError(f"cannot write {what} {target}: folder {folder} does not accept new files "
                              f"({exc.strerror or exc})") from None
    os.remove(probe)


def _first_non_folder(folder: Path) -> Path:
    for parent in [*reversed(folder.parents), folder]:
        if parent.exists() and not parent.is_dir():
            return parent
    return folder
