"""Refuse files that could run code, before anything deserialises them.

Everything audiolm_lib reads is data: JSON, safetensors, numpy without pickle, ``torch.load(weights_only=True)``
(:func:`load_torch_weights`) or the restricted fairseq unpickler. The checks here run first and name the file:

- :func:`check_regular_file`: an existing regular file (not a folder, FIFO or device), optionally one whose
  real path lies inside a given folder (a symlink in a checkpoint folder may not point outside it);
- :func:`inspect_torch_archive`: a ``torch.save`` archive and nothing else. TorchScript archives (which
  ``torch.load`` hands to ``torch.jit.load``, running their ``__setstate__``), zips with absolute, ``..``,
  duplicate or compressed entries, and files that are a zip only past some leading bytes (polyglots) are refused;
- :func:`check_hf_directory`: a Hugging Face model folder whose weights are safetensors; pickled
  ``pytorch_model.bin`` (or TensorFlow / Flax / checkpoint) weights are refused, not unpickled.
"""
from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from audiolm_lib.errors import CheckpointError

ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL_2_PLUS = b"\x80"
# weight files that are pickles (or formats that may hold code); never loaded from a model folder
UNSAFE_WEIGHT_NAMES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack",
                       "model.ckpt.index")
UNSAFE_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".h5", ".msgpack")
SAFE_HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")


def check_regular_file(path: str | os.PathLike, what: str, inside: str | os.PathLike | None = None) -> Path:
    """``path`` if it is an existing regular file (symlinks followed); else a :class:`CheckpointError`.

    ``inside``: the file's real path (symlinks resolved) must lie in this folder's real path.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        detail = " (a symlink to a missing file)" if path.is_symlink() else ""
        raise CheckpointError(f"{what} not found: {path}{detail}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot access {what} {path}: {exc}") from exc
    if stat.S_ISDIR(mode):
        raise CheckpointError(f"{what} {path} is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"refusing {what} {path}: not a regular file (a FIFO, socket or device)")
    if inside is not None:
        real, folder = path.resolve(), Path(inside).resolve()
        if folder not in real.parents:
            raise CheckpointError(f"refusing {what} {path}: it is a symlink to {real}, outside the checkpoint folder "
                                  f"{folder}; copy the file into the folder instead")
    return path


def inspect_torch_archive(path: str | os.PathLike, what: str = "PyTorch checkpoint") -> str:
    """Classify ``path`` as ``"zip"`` (``torch.save`` since 1.6) or ``"legacy"`` (older pickle format).

    Raises :class:`CheckpointError` naming the file for TorchScript archives and anything else that is not
    a plain ``torch.save`` archive (see the module docstring), without deserialising any of it.
    """
    path = check_regular_file(path, what)
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise CheckpointError(f"cannot read {what} {path}: the file is empty (0 bytes)")
    if head == ZIP_MAGIC:
        _check_zip_entries(path, what)
        return "zip"
    if zipfile.is_zipfile(path):  # a zip central directory behind other bytes: two readers, two contents
        raise CheckpointError(f"refusing {what} {path}: a zip archive preceded by other data (polyglot file); "
                              "torch.save never writes that")
    if head[:1] == PICKLE_PROTOCOL_2_PLUS:
        return "legacy"
    raise CheckpointError(f"cannot read {what} {path}: not a PyTorch checkpoint (neither a torch.save zip "
                          "nor a pickle)")


def _check_zip_entries(path: Path, what: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {what} {path} (truncated or corrupt zip?): {exc}") from exc
    names = [info.filename for info in infos]
    if not names:
        raise CheckpointError(f"{what} {path} is an empty zip archive")
    parts = [PurePosixPath(name).parts for name in names]
    if any(p[1:2] == ("constants.pkl",) or p[1:2] == ("code",) for p in parts):
        raise CheckpointError(f"refusing {what} {path}: it is a TorchScript archive (it carries code that "
                              "torch.jit.load would run); give the plain state dict saved with torch.save")
    for info in infos:
        name = PurePosixPath(info.filename)
        if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
            raise CheckpointError(f"refusing {what} {path}: zip entry {info.filename!r} escapes the archive")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise CheckpointError(f"refusing {what} {path}: zip entry {info.filename!r} is a symlink")
        if info.flag_bits & 0x1:
            raise CheckpointError(f"refusing {what} {path}: zip entry {info.filename!r} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"refusing {what} {path}: zip entry {info.filename!r} is compressed; "
                                  "torch.save stores entries uncompressed")
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise CheckpointError(f"refusing {what} {path}: zip entry {duplicate!r} appears twice")
    roots = {p[0] for p in parts}
    if len(roots) != 1:
        raise CheckpointError(f"refusing {what} {path}: entries under several top folders {sorted(roots)[:4]}")
    if not any(p[1:] == ("data.pkl",) for p in parts):
        raise CheckpointError(f"{what} {path} is a zip archive without data.pkl: not a torch.save checkpoint")


def load_torch_weights(path: str | os.PathLike, what: str = "PyTorch checkpoint", allow: Sequence[Any] = ()) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU after :func:`inspect_torch_archive`.

    Only tensors and plain containers come back; a pickle naming anything else (``os.system``, a class) is
    refused with a :class:`CheckpointError` naming the file. ``allow``: extra allow-listed globals (e.g. numpy's
    array reconstruction, for training state written by older versions).
    """
    import pickle

    import torch

    path = Path(path)
    inspect_torch_archive(path, what)
    try:
        with torch.serialization.safe_globals(list(allow)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"refusing {what} {path}: it holds more than tensors and plain containers "
                              f"({_unpickling_reason(exc)}); nothing of it was run") from exc
    except Exception as exc:  # EOF, zip and storage errors of a cut or damaged file
        raise CheckpointError(f"cannot read {what} {path} (truncated or corrupt?): {exc}") from exc


def _unpickling_reason(exc: Exception) -> str:
    """The line of torch's long weights-only error that says what the pickle asked for."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "GLOBAL" in line or "WeightsUnpickler error" in line or "Unsupported" in line:
            return line.removeprefix("WeightsUnpickler error:").strip().rstrip(".")
    return lines[-1] if lines else type(exc).__name__


def check_hf_directory(path: str | os.PathLike, what: str) -> Path:
    """A local Hugging Face model folder with ``config.json`` and safetensors weights, else a clear error.

    Pickled weights are refused by name; load the folder with ``from_pretrained(..., use_safetensors=True)``
    so nothing else is ever opened.
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{what}: expected a Hugging Face model folder, got {path}")
    check_regular_file(path / "config.json", f"{what} config")
    present = sorted(p.name for p in path.iterdir())
    if any(name in present for name in SAFE_HF_WEIGHTS):
        for name in SAFE_HF_WEIGHTS:
            if name in present:
                check_regular_file(path / name, f"{what} weights")
        return path
    unsafe = [name for name in present if name in UNSAFE_WEIGHT_NAMES or name.endswith(UNSAFE_WEIGHT_SUFFIXES)]
    if unsafe:
        raise CheckpointError(
            f"refusing {what} weights {path / unsafe[0]}: pickled weights can run code when loaded; convert the "
            "folder to safetensors (e.g. model.save_pretrained(out, safe_serialization=True) where you trust it)")
    raise CheckpointError(f"{what} folder {path} has no model.safetensors")
