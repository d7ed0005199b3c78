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
import contextlib
import stat
import struct
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, Sequence

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
    if tarfile.is_tarfile(path):  # torch < 0.4: torch.load extracts its members to disk, then reads them
        raise CheckpointError(f"refusing {what} {path}: a tar archive (PyTorch < 0.4 format), which torch.load "
                              "extracts to disk; re-save it with a current PyTorch")
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
    from audiolm_lib.inputs import MAX_CONFIG_BYTES, InputFileError, check_input_file, read_json

    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{what}: expected a Hugging Face model folder, got {path}")
    check_regular_file(path / "config.json", f"{what} config", inside=path)
    present = sorted(p.name for p in path.iterdir())
    try:  # transformers reads any of these; none may block, be huge, or point outside the folder
        for name in present:
            if not (path / name).is_dir():
                check_input_file(path / name, f"{what} file", inside=path,
                                 max_bytes=MAX_CONFIG_BYTES if name.endswith(".json") else None)
        for name in present:  # config.json, and any other JSON transformers may read (generation, preprocessor)
            if name.endswith(".json") and name != "model.safetensors.index.json":
                check_hf_model_config(read_json(path / name, f"{what} {name}", inside=path), str(path / name))
        if "model.safetensors.index.json" in present:  # sharded weights: each shard a file of this folder
            index = read_json(path / "model.safetensors.index.json", f"{what} weights index", inside=path)
            shards = set((index.get("weight_map") or {}).values()) if isinstance(index, dict) else {None}
            for shard in shards:
                if not isinstance(shard, str) or shard not in present or not shard.endswith(".safetensors"):
                    raise CheckpointError(f"refusing {what} weights index {path / 'model.safetensors.index.json'}: "
                                          f"shard {shard!r:.80} is not a safetensors file of the folder")
    except InputFileError as exc:
        raise CheckpointError(str(exc)) from None
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


# --------------------------------------------------------------------------------------------- Hugging Face configs
# attention implementations that never load code: anything else (flash_attention_*, "<org>/<repo>") makes
# transformers fetch a kernel from the hub through the `kernels` package
HF_ATTENTION = (None, "eager", "sdpa")
# config fields that resolve hub content or remote code
HF_REFUSED_FIELDS = ("auto_map", "trust_remote_code", "custom_pipelines", "custom_generate", "use_kernels",
                     "kernel_config", "quantization_config", "custom_code", "hub_kernels")
HF_BOUNDS = {
    **dict.fromkeys(("hidden_size", "output_hidden_size", "feature_projection_input_dim", "tdnn_dim", "conv_dim",
                     "classifier_proj_size", "xvector_output_dim", "proj_codevector_dim"), (0, 16_384)),
    **dict.fromkeys(("intermediate_size",), (1, 65_536)),
    **dict.fromkeys(("num_hidden_layers", "num_adapter_layers", "num_feat_extract_layers"), (0, 256)),
    **dict.fromkeys(("num_attention_heads",), (1, 256)),
    **dict.fromkeys(("vocab_size", "codevector_dim", "num_codevectors_per_group"), (0, 1 << 20)),
    **dict.fromkeys(("conv_kernel", "conv_stride", "num_conv_pos_embeddings", "num_conv_pos_embedding_groups",
                     "conv_depthwise_kernel_size", "adapter_kernel_size", "adapter_stride", "tdnn_kernel",
                     "tdnn_dilation", "left_max_position_embeddings", "right_max_position_embeddings",
                     "num_codevector_groups"), (0, 4096)),
    "max_source_positions": (0, 1 << 20),
    "max_position_embeddings": (0, 1 << 20),
    # EnCodec
    **dict.fromkeys(("kernel_size", "last_kernel_size", "residual_kernel_size", "upsampling_ratios"), (1, 4096)),
    **dict.fromkeys(("codebook_dim", "num_filters"), (1, 16_384)),
    "codebook_size": (1, 1 << 20),
    **dict.fromkeys(("num_lstm_layers", "num_residual_layers"), (0, 256)),
    "sampling_rate": (1000, 384_000),
    "audio_channels": (1, 16),
}
HF_MAX_LIST = 256  # conv_dim & co.: one entry per layer


def check_hf_model_config(config: Any, source: str) -> None:
    """A Hugging Face model config (dict, nested sub-configs included) that builds a bounded model and fetches
    nothing: no remote-code or kernel fields, an attention implementation of :data:`HF_ATTENTION`, sizes within
    :data:`HF_BOUNDS`, finite numbers. Raises :class:`CheckpointError` naming ``source`` and the field."""
    from audiolm_lib.limits import LimitError, check_bounds

    if not isinstance(config, dict):
        raise CheckpointError(f"{source}: expected a Hugging Face config object, got {type(config).__name__}")
    for key, value in config.items():
        name = str(key).lower()
        if (name in HF_REFUSED_FIELDS or "remote_code" in name or name.startswith("custom_")
                or ("kernel" in name and name not in HF_BOUNDS)):
            raise CheckpointError(f"refusing {source}: field {key!r} loads code or content from a model hub; "
                                  "audiolm_lib never fetches anything")
        if "attn_implementation" in name and (isinstance(value, (str, dict)) or name.endswith("implementation")) \
                and value not in HF_ATTENTION:  # (not the boolean _attn_implementation_autoset)
            raise CheckpointError(f"refusing {source}: {key} = {value!r} would fetch an attention kernel; use one of "
                                  f"{[a for a in HF_ATTENTION if a]} (or leave it out)")
        if isinstance(value, dict):
            check_hf_model_config(value, f"{source} ({key})")
        elif isinstance(value, (list, tuple)) and len(value) > HF_MAX_LIST:
            raise CheckpointError(f"refusing {source}: {key} has {len(value)} entries (at most {HF_MAX_LIST})")
    try:
        check_bounds(config, source, HF_BOUNDS)
    except LimitError as exc:
        raise CheckpointError(str(exc)) from None


def check_hf_model_size(model_class: type, config: Any, source: str) -> None:
    """Build ``model_class(config)`` (a transformers model and config object) on the ``meta`` device and refuse
    it, before any memory is allocated, if it is larger than :data:`~audiolm_lib.limits.MAX_PARAMETERS`
    (transformers would allocate the weights a folder lacks)."""
    import torch

    from audiolm_lib.limits import LimitError, check_model_size

    with offline_hub(), torch.device("meta"):
        parameters = sum(p.numel() for p in model_class(config).parameters())
    try:
        check_model_size(parameters, source)
    except LimitError as exc:
        raise CheckpointError(str(exc)) from None


@contextlib.contextmanager
def offline_hub() -> Iterator[None]:
    """Within the block, Hugging Face libraries run offline (``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` and
    ``huggingface_hub``'s own flag, which it reads once at import); everything is restored afterwards, so
    importing audiolm_lib changes nothing for the rest of the program."""
    import sys

    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {name: os.environ.get(name) for name in names}
    constants = sys.modules.get("huggingface_hub.constants")
    saved_flag = getattr(constants, "HF_HUB_OFFLINE", None)
    os.environ.update(dict.fromkeys(names, "1"))
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if constants is not None:
            constants.HF_HUB_OFFLINE = saved_flag


# --------------------------------------------------------------------------------------------- safetensors headers
SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024
SAFETENSORS_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                      "U16": 2, "U32": 4, "U64": 8, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
FLOAT_STORAGE = ("F16", "BF16", "F32", "F64")  # what a floating-point weight may be stored as


def read_safetensors_header(path: str | os.PathLike, what: str = "weights file") -> dict[str, dict]:
    """``{name: {"dtype", "shape", "data_offsets"}}`` of a safetensors file, read from its header alone.

    Each entry's byte range must match its dtype and shape and lie in the file, so nothing is allocated from
    a header that promises more than the file holds.
    """
    from audiolm_lib.inputs import InputFileError, parse_json

    path = check_regular_file(path, what)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise CheckpointError(f"cannot read {what} {path} (truncated or corrupt?): too short for a safetensors file")
        (length,) = struct.unpack("<Q", head)
        if length > min(SAFETENSORS_MAX_HEADER, size - 8):
            raise CheckpointError(f"cannot read {what} {path} (truncated or corrupt?): header of {length:,} bytes in a "
                                  f"file of {size:,}")
        try:
            header = parse_json(handle.read(length).decode("utf-8"), f"{what} {path} header")
        except (InputFileError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"cannot read {what} {path} (truncated or corrupt?): bad header ({exc})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"cannot read {what} {path} (truncated or corrupt?): bad header")
    header.pop("__metadata__", None)
    data_bytes = size - 8 - length
    for name, entry in header.items():
        try:
            dtype, shape, (begin, end) = entry["dtype"], list(entry["shape"]), entry["data_offsets"]
            expected = SAFETENSORS_DTYPES[dtype]
            for dim in shape:
                if not isinstance(dim, int) or dim < 0:
                    raise ValueError
                expected *= dim
            ok = isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= data_bytes
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"cannot read {what} {path} (truncated or corrupt?): bad entry {name!r}") from None
        if not ok or end - begin != expected:
            raise CheckpointError(f"cannot read {what} {path} (truncated or corrupt?): tensor {name!r} ({dtype} "
                                  f"{shape}) does not fit the bytes the file holds")
    return header
