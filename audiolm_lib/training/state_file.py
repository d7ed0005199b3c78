"""A nested training-state dict as one safetensors file: tensors as tensors, the rest as JSON in its header.

No pickle is involved, so reading a file runs no code; a cut or damaged file fails safetensors' size checks.
Values may be tensors, numpy arrays and scalars, dicts (any JSON-able or tuple keys, e.g. an optimizer's
integer parameter ids), lists, tuples, str, int, float (inf and nan included), bool and None.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiolm_lib.atomic import atomic_write
from audiolm_lib.serialization import CheckpointError

FORMAT = "audiolm_lib.training_state"
VERSION = 1
_META_KEY = "audiolm_lib_state"
_TAGS = ("__tensor__", "__ndarray__", "__tuple__", "__items__")


def save_state_file(state: Any, path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` (temp file + rename)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, tensors, set())
    header = json.dumps({"format": FORMAT, "version": VERSION, "state": tree}, allow_nan=True)
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={_META_KEY: header}))


def load_state_file(path: str | os.PathLike) -> Any:
    """Read a file written by :func:`save_state_file`; :class:`CheckpointError` naming it if it is not one."""
    from safetensors import SafetensorError, safe_open

    from audiolm_lib.safe_load import check_regular_file

    path = check_regular_file(path, "training state")  # a FIFO named step_*.safetensors would block the reader
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            header = (handle.metadata() or {}).get(_META_KEY)
            if header is None:
                raise CheckpointError(f"{path} is a safetensors file but not an audiolm_lib training state")
            meta = json.loads(header)
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise CheckpointError(f"{path} is not an audiolm_lib training state")
            if meta.get("version") != VERSION:
                raise CheckpointError(f"{path}: training-state version {meta.get('version')} is not supported "
                                      f"(this audiolm_lib reads version {VERSION})")
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:  # ValueError covers JSON errors
        raise CheckpointError(f"cannot read training state {path} (truncated or corrupt?): {exc}") from exc
    try:
        return _decode(meta["state"], tensors)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"training state {path} is inconsistent (corrupt header?): {exc}") from exc


def _encode(value: Any, tensors: dict[str, torch.Tensor], storages: set[int]) -> Any:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        storage = tensor.untyped_storage()
        whole = tensor.is_contiguous() and storage.nbytes() == tensor.numel() * tensor.element_size()
        if storage.data_ptr() in storages or not whole:  # safetensors refuses shared or partial storage
            tensor = tensor.clone(memory_format=torch.contiguous_format)
        storages.add(tensor.untyped_storage().data_ptr())
        name = f"t{len(tensors)}"
        tensors[name] = tensor
        return {"__tensor__": name}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"cannot store a numpy array of dtype {value.dtype} in a training state")
        name = f"t{len(tensors)}"
        stored = value.astype(np.int64) if value.dtype.kind == "u" else value  # torch lacks most unsigned types
        tensors[name] = torch.from_numpy(np.ascontiguousarray(stored)).clone()
        return {"__ndarray__": name, "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors, storages) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors, storages) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not any(k in _TAGS or k == "dtype" for k in value):
            return {k: _encode(v, tensors, storages) for k, v in value.items()}
        return {"__items__": [[_encode(k, tensors, storages), _encode(v, tensors, storages)] for k, v in value.items()]}
    raise TypeError(f"cannot store a {type(value).__name__} in a training state (tensors, numbers, strings, "
                    "lists, tuples and dicts only)")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__ndarray__" in value:
        return tensors[value["__ndarray__"]].numpy().astype(np.dtype(value["dtype"]))
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__items__" in value:
        return {_hashable(_decode(k, tensors)): _decode(v, tensors) for k, v in value["__items__"]}
    return {k: _decode(v, tensors) for k, v in value.items()}


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    return key
