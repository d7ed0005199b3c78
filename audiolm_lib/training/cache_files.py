"""The files of a token cache read back safely: ``header.json``, ``build.json``, each shard's ``index.json`` and arrays.

Each is a regular file inside the cache folder, of bounded size (:mod:`audiolm_lib.inputs`); header sizes are
within the library's bounds (:mod:`audiolm_lib.limits`); shard names are the builder's own
(``shard_00000``...: never ``../x`` or an absolute path); every index entry's offsets and lengths are
non-negative integers that lie inside the shard's arrays. A :class:`CheckpointError` names the file otherwise.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from audiolm_lib.inputs import MAX_CONFIG_BYTES, MAX_INDEX_BYTES, InputFileError, check_input_file, check_inside, read_json
from audiolm_lib.limits import LimitError, check_bounds
from audiolm_lib.serialization import CheckpointError

SHARD_NAME = re.compile(r"^shard_\d{5}$")
HEADER_FIELDS = ("semantic_rate", "acoustic_rate", "num_quantizers", "codebook_size", "semantic_vocab_size")
INDEX_INTS = ("semantic_offset", "semantic_length", "acoustic_offset", "acoustic_length")


def read_cache_json(path: Path, folder: Path, what: str) -> Any:
    """A JSON file of the cache (header.json, build.json), checked before it is opened."""
    try:
        return read_json(path, what, max_bytes=MAX_CONFIG_BYTES, inside=folder)
    except InputFileError as exc:
        raise CheckpointError(f"{exc}; delete {folder} and rebuild the cache") from None


def check_header(header: dict, path: Path) -> None:
    """Sizes within bounds, shard list of the builder's names and item counts."""
    missing = [key for key in HEADER_FIELDS if not isinstance(header.get(key), (int, float))
               or isinstance(header.get(key), bool)]
    if missing:
        raise CheckpointError(f"{path}: missing or non-numeric field(s) {missing}")
    try:
        check_bounds({key: header[key] for key in HEADER_FIELDS}, str(path))
    except LimitError as exc:
        raise CheckpointError(str(exc)) from None
    shards = header["shards"]
    if not isinstance(shards, list):
        raise CheckpointError(f"{path}: 'shards' must be a list")
    for shard in shards:
        if not isinstance(shard, dict):
            raise CheckpointError(f"{path}: a shard entry must be an object, got {shard!r:.80}")
        check_shard_name(shard.get("name"), path)
        count = shard.get("num_items")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise CheckpointError(f"{path}: shard {shard['name']} has an invalid num_items {count!r:.40}")


def check_shard_name(name: Any, where: Path) -> str:
    if not isinstance(name, str) or not SHARD_NAME.match(name):
        raise CheckpointError(f"{where}: {name!r:.80} is not a shard name of a token cache (shard_00000, ...)")
    return name


def shard_folder(shards_dir: Path, name: str) -> Path:
    """``shards_dir / name`` for a builder's shard name, whose real path stays inside ``shards_dir``."""
    folder = shards_dir / check_shard_name(name, shards_dir)
    try:
        check_inside(folder, shards_dir, "token cache shard")
    except InputFileError as exc:
        raise CheckpointError(str(exc)) from None
    return folder


def read_index(shard_dir: Path) -> list[dict]:
    """A shard's ``index.json``: a list of entries with an ``id``, a ``split`` and non-negative int offsets."""
    path = shard_dir / "index.json"
    try:
        index = read_json(path, "token cache index", max_bytes=MAX_INDEX_BYTES, inside=shard_dir)
    except InputFileError as exc:
        raise CheckpointError(f"token cache shard {shard_dir} is unreadable ({exc}); delete it to rebuild it") from None
    if not isinstance(index, list):
        raise CheckpointError(f"{path}: expected a list of items")
    for number, item in enumerate(index):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("split"), str):
            raise CheckpointError(f"{path}: item {number} lacks a string id and split")
        for key in INDEX_INTS:
            value = item.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise CheckpointError(f"{path}: item {number} has an invalid {key} {value!r:.40}")
    return index


def open_shard_arrays(shard_dir: Path, items: list[dict], num_quantizers: int) -> tuple[np.ndarray, np.ndarray]:
    """Memory-map a shard's ``semantic.npy [S]`` and ``acoustic.npy [F, Q]`` and check every item lies inside."""
    arrays = []
    for name in ("semantic.npy", "acoustic.npy"):
        try:
            path = check_input_file(shard_dir / name, "token cache array", inside=shard_dir)
            arrays.append(np.load(path, mmap_mode="r", allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"token cache shard {shard_dir} is unreadable ({exc}); rebuild the cache") from exc
    semantic, acoustic = arrays
    if semantic.ndim != 1 or semantic.dtype.kind not in "iu":
        raise CheckpointError(f"{shard_dir}/semantic.npy has shape {semantic.shape} ({semantic.dtype}), expected "
                              "integer ids [S]")
    if acoustic.ndim != 2 or acoustic.shape[1] != num_quantizers or acoustic.dtype.kind not in "iu":
        raise CheckpointError(f"{shard_dir}/acoustic.npy has shape {acoustic.shape}, expected [F, {num_quantizers}]")
    for item in items:
        if (item["semantic_offset"] + item["semantic_length"] > semantic.shape[0]
                or item["acoustic_offset"] + item["acoustic_length"] > acoustic.shape[0]):
            raise CheckpointError(f"{shard_dir}/index.json: item {item['id']!r:.80} points past the end of the "
                                  "shard's arrays; rebuild the cache")
    return semantic, acoustic
