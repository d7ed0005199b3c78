"""Dataset manifests: ``manifest.jsonl`` beside an ``audio/`` folder, one JSON object per utterance.

Each line holds ``{"id", "audio", "duration", "sample_rate", "split", ...}`` where ``audio`` is relative to
the manifest's folder; speech adds ``"speaker"`` and ``"text"``, piano adds ``"piece"``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from audiolm_lib.atomic import atomic_write_text  # noqa: F401  (torch-free; piano.py imports it from here)
from audiolm_lib.datasets.splits import hash_position
from audiolm_lib.inputs import MAX_MANIFEST_BYTES, MAX_TRANSCRIPT_BYTES, InputFileError, read_text
from audiolm_lib.outputs import check_output_file

if TYPE_CHECKING:
    import torch

MANIFEST_NAME = "manifest.jsonl"
SPLITS = ("train", "valid")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


class ManifestError(ValueError):
    """A manifest is missing, unreadable, or has an entry without the required fields."""


def stable_split(name: str, valid_fraction: float) -> str:
    """``"valid"`` for a fixed ``valid_fraction`` of names, ``"train"`` otherwise.

    Depends only on ``name`` (SHA-1, not Python's salted ``hash``), so a piece or utterance keeps its split
    across runs, machines and dataset sizes.
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    return "valid" if hash_position(name) < valid_fraction else "train"


def list_audio_files(folder: str | os.PathLike, extensions: Iterable[str] = AUDIO_EXTENSIONS) -> list[Path]:
    """Every file under ``folder`` (recursively) whose suffix is in ``extensions`` (any case), sorted.

    Raises:
        ManifestError: ``folder`` is not a folder, or holds no such file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError(f"not a folder: {folder}")
    extensions = tuple(extensions)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in extensions and p.is_file())
    if not files:
        raise ManifestError(f"no audio files ({', '.join(extensions)}) under {folder}")
    return files


def write_wav(path: str | os.PathLike, wave, sample_rate: int) -> Path:
    """Write mono float ``wave[T]`` as 16-bit PCM (clipped to [-1, 1]), atomically; the folder is created."""
    import numpy as np
    import soundfile as sf

    from audiolm_lib.atomic import atomic_write
    from audiolm_lib.outputs import audio_write_format

    file_format, subtype = audio_write_format(path)
    frames = np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0)
    return atomic_write(path, lambda tmp: sf.write(tmp, frames, sample_rate, format=file_format, subtype=subtype))


def write_manifest(path: str | os.PathLike, entries: Iterable[dict]) -> Path:
    """Write ``entries`` as JSON lines, atomically (a crash never leaves half a manifest)."""
    lines = [json.dumps(entry, ensure_ascii=False, sort_keys=False) for entry in entries]
    return atomic_write_text(path, "".join(line + "\n" for line in lines))


def read_manifest(
    path: str | os.PathLike, *, resolve: bool = True, check_files: bool = False, require_id: bool = True
) -> list[dict]:
    """Read a ``manifest.jsonl`` (or a dataset folder that holds one).

    Args:
        path: the manifest file, or the folder containing ``manifest.jsonl``.
        resolve: turn each relative ``"audio"`` path into an absolute one (relative to the manifest's folder).
        check_files: also fail if an entry's audio file does not exist.
        require_id: fail on an entry without ``"id"``; if False such an entry's id is its ``"audio"`` value
            as written, and the same file may be listed more than once (a plain list of training files).

    Returns:
        One dict per line, in file order. Every entry has at least ``"id"`` and ``"audio"``; a missing
        ``"split"`` defaults to ``"train"``.

    Raises:
        ManifestError: missing file, invalid JSON (with the line number), missing fields, duplicate ids.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.exists():
        raise ManifestError(f"manifest not found: {path}")
    try:  # a regular file of bounded size (a FIFO would block, a sparse 20 GB file fill the memory)
        text = read_text(path, "manifest", max_bytes=MAX_MANIFEST_BYTES)
    except (OSError, InputFileError) as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from exc
    entries: list[dict] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
            raise ManifestError(f"{path}, line {number}: not valid JSON (truncated or corrupt?): "
                                f"{getattr(exc, 'msg', exc)}") from exc
        except RecursionError:
            raise ManifestError(f"{path}, line {number}: JSON nested too deeply") from None
        if not isinstance(entry, dict):
            raise ManifestError(f"{path}, line {number}: expected a JSON object, got {type(entry).__name__}")
        missing = [key for key in ("id", "audio") if key not in entry and (require_id or key != "id")]
        if missing:
            raise ManifestError(f"{path}, line {number}: entry lacks required field(s) {missing}")
        has_id = "id" in entry
        entry["id"] = str(entry["id"] if has_id else entry["audio"])
        if has_id and entry["id"] in seen:
            raise ManifestError(f"{path}, line {number}: duplicate id {entry['id']!r} (first on line {seen[entry['id']]})")
        seen[entry["id"]] = number
        entry.setdefault("split", "train")
        if resolve:
            audio = Path(entry["audio"])
            entry["audio"] = str(audio if audio.is_absolute() else (path.parent / audio).resolve())
        if check_files and not Path(entry["audio"]).exists():
            raise ManifestError(f"{path}, line {number}: audio file not found: {entry['audio']}")
        entries.append(entry)
    if not entries:
        raise ManifestError(f"manifest {path} has no entries")
    return entries


def split_clips(path: str | os.PathLike, split: str, sample_rate: int, *, limit: int | None = None,
                per_group: int | None = None) -> list[tuple[dict, torch.Tensor]]:
    """``(entry, Tensor[T] mono wave at sample_rate)`` of the manifest's ``split`` entries, in file order.

    ``per_group``: at most this many per speaker (else per piece, else per id); ``limit``: at most this many in all.
    The validation benches read their clips so.
    """
    from audiolm_lib.audio import load_audio

    clips, taken = [], {}
    for entry in read_manifest(path):
        group = entry.get("speaker") or entry.get("piece") or entry["id"]
        if entry.get("split") != split or (per_group is not None and taken.get(group, 0) >= per_group):
            continue
        if limit is not None and len(clips) >= limit:
            break
        taken[group] = taken.get(group, 0) + 1
        clips.append((entry, load_audio(entry["audio"], sample_rate=sample_rate)[0]))
    return clips


def manifest_from_folder(
    folder: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    valid_fraction: float = 0.05,
) -> Path:
    """Index your own audio: every audio file under ``folder`` becomes an entry (split by a hash of its path).

    With ``valid_fraction > 0`` and two or more files, at least one file is ``"valid"`` (the one with the lowest
    hash when the fraction of a small folder rounds to none), so the trainers always have something to validate on.

    A ``.txt`` file beside an audio file is taken as its transcript. Returns the manifest path
    (``folder/manifest.jsonl`` unless ``out`` is given; audio paths are relative to the manifest's folder).
    """
    import soundfile as sf

    folder = Path(folder)
    files = list_audio_files(folder)
    out = Path(out) if out is not None else folder / MANIFEST_NAME
    # before reading every file's header; never over one of the recordings it lists
    check_output_file(out, (".jsonl",), what="manifest (--out)", inputs=files)
    by_id: dict[str, list[str]] = {}
    for file in files:  # ids are paths without the extension: good.wav and good.mp3 would share one
        relative = file.relative_to(folder).as_posix()
        by_id.setdefault(relative.rsplit(".", 1)[0], []).append(relative)
    clashes = {key: names for key, names in by_id.items() if len(names) > 1}
    if clashes:
        listed = "; ".join(f"{' and '.join(names)} -> {key!r}" for key, names in list(clashes.items())[:5])
        raise ManifestError(f"{len(clashes)} id(s) under {folder} would be shared by files differing only in their "
                            f"extension ({listed}); keep one file per recording or rename them (nothing was written)")
    entries = []
    for file in files:
        relative = file.relative_to(folder).as_posix()
        entry = {"id": relative.rsplit(".", 1)[0], "audio": os.path.relpath(file, out.parent)}
        try:
            info = sf.info(str(file))
            entry.update(duration=round(info.frames / info.samplerate, 4), sample_rate=info.samplerate)
        except Exception:  # unreadable files stay listed; the token cache reports them
            pass
        entry["split"] = stable_split(relative, valid_fraction)
        transcript = file.with_suffix(".txt")
        if transcript.exists():
            entry["text"] = read_text(transcript, "transcript", max_bytes=MAX_TRANSCRIPT_BYTES,
                                      errors="replace").strip()
        entries.append(entry)
    if valid_fraction > 0 and len(entries) > 1 and not any(e["split"] == "valid" for e in entries):
        min(entries, key=lambda e: hash_position(e["id"]))["split"] = "valid"
    return write_manifest(out, entries)
