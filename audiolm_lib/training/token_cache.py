"""Token cache: run the semantic tokenizer and the codec over a dataset once, keep the ids on disk.

Stage training then reads aligned ``semantic`` and ``acoustic`` ids per utterance from memory-mapped shards
and never runs the tokenizers again.

Layout of ``out_dir``::

    build.json              what is being built (components' identity, manifests, split); written first
    shards/shard_00000/     semantic.npy  uint16 [sum S]       concatenated semantic ids
                            acoustic.npy  uint16 [sum F, Q]    concatenated code frames (frame-major: one
                                                               item is one contiguous slice of the memmap)
                            index.json    per item: id, split, speaker, text, offsets and lengths
    errors.jsonl            items that could not be tokenized (unreadable/corrupt audio), one JSON per line
    header.json             written last: rates, sizes, components' identity, shard list -> cache complete

Each shard appears atomically (written to a temp folder, then renamed), so an interrupted build resumes from
the last finished shard and ends with the same cache as an uninterrupted one.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from audiolm_lib.atomic import append_line, read_lines
from audiolm_lib.provenance import (  # noqa: F401  (component_identity re-exported)
    component_identity,
    describe_difference,
    identity_summary,
)
from audiolm_lib.serialization import CheckpointError, atomic_write_text

from audiolm_lib.training.cache_files import (check_header, open_shard_arrays, read_cache_json, read_index,
                                              shard_folder)

FORMAT_VERSION = 1

HEADER_NAME = "header.json"
BUILD_NAME = "build.json"
ERRORS_NAME = "errors.jsonl"
SHARDS_DIR = "shards"
TMP_PREFIX = ".tmp_"
# a tokenizer fitted for this cache (``audiolm tokenize --tokenizer mfcc``) may sit in the folder before the build
FOREIGN_ALLOWED = ("tokenizer",)


def _ids_dtype(vocab: int) -> np.dtype:
    if vocab <= 2**16:
        return np.dtype(np.uint16)
    if vocab <= 2**31:
        return np.dtype(np.int32)
    raise ValueError(f"vocabulary of {vocab} ids is too large for the token cache")


# --------------------------------------------------------------------------------------------- build
def build_token_cache(
    manifest: Path | str | Sequence[Path | str],
    out_dir: Path | str,
    tokenizer,
    codec,
    *,
    split: str | None = None,
    shard_size: int = 512,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> "TokenCache":
    """Tokenize every manifest entry (of ``split``, or all) with ``tokenizer`` and ``codec`` into ``out_dir``.

    Args:
        manifest: one ``manifest.jsonl`` (or dataset folder) or several; ids must be unique across them.
        out_dir: cache folder; a previous, interrupted build there with the same inputs is resumed.
        tokenizer: a :class:`~audiolm_lib.interfaces.SemanticTokenizerProtocol`; audio is resampled to its rate.
        codec: a :class:`~audiolm_lib.interfaces.CodecProtocol`; audio is resampled to its own rate.
        split: keep only entries whose ``"split"`` equals this (``None``: every entry).
        shard_size: items per shard (a resumed build redoes at most one shard).
        device: where waves (and module components) are put for tokenizing.
        progress: tqdm bar and a printed summary (items, errors) at the end.

    Returns:
        The finished :class:`TokenCache`. Items whose audio is unreadable or too short are skipped and listed in
        ``out_dir/errors.jsonl`` (and ``TokenCache.errors``); a tokenizer/codec producing out-of-range ids raises.
    """
    from tqdm.auto import tqdm

    from audiolm_lib.datasets.manifest import read_manifest

    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    manifests = [manifest] if isinstance(manifest, (str, os.PathLike)) else list(manifest)
    if not manifests:
        raise ValueError("no manifest given")
    entries: list[dict] = []
    seen: dict[str, str] = {}
    for path in manifests:
        for entry in read_manifest(path):
            if entry["id"] in seen:
                raise ValueError(f"id {entry['id']!r} appears in both {seen[entry['id']]} and {path}")
            seen[entry["id"]] = str(path)
            if split is None or entry.get("split") == split:
                entries.append(entry)
    if not entries:
        raise ValueError(f"no manifest entries with split {split!r} in {[str(m) for m in manifests]}")

    out_dir = Path(out_dir)
    device = torch.device(device)
    for component in (tokenizer, codec):
        if isinstance(component, torch.nn.Module):
            component.to(device).eval()
    build = {
        "format_version": FORMAT_VERSION,
        "manifests": [str(Path(m).resolve()) for m in manifests],
        "split": split,
        "shard_size": shard_size,
        "tokenizer": component_identity(tokenizer),
        "codec": component_identity(codec),
    }
    done_ids, shard_names = _prepare_directory(out_dir, build)

    semantic_dtype = _ids_dtype(int(tokenizer.vocab_size))
    acoustic_dtype = _ids_dtype(int(codec.codebook_size))
    errors: list[dict] = []
    errors_path = out_dir / ERRORS_NAME
    atomic_write_text(errors_path, "")  # this run's errors; earlier failures are retried
    pending: list[tuple[dict, np.ndarray, np.ndarray]] = []
    todo = [e for e in entries if e["id"] not in done_ids]
    bar = tqdm(total=len(entries), initial=len(entries) - len(todo), unit="item", desc="tokenize", disable=not progress)
    for entry in todo:
        try:
            semantic, acoustic = _tokenize_entry(entry, tokenizer, codec, device)
        except (ValueError, OSError) as exc:  # AudioError is a ValueError: unreadable, empty, too short
            error = {"id": entry["id"], "audio": entry["audio"], "error": f"{type(exc).__name__}: {exc}"}
            errors.append(error)
            append_line(errors_path, json.dumps(error))
        else:
            pending.append((entry, semantic.astype(semantic_dtype), acoustic.astype(acoustic_dtype)))
            if len(pending) == shard_size:
                shard_names.append(_write_shard(out_dir, len(shard_names), pending))
                pending = []
        bar.update(1)
        bar.set_postfix(errors=len(errors))
    if pending:
        shard_names.append(_write_shard(out_dir, len(shard_names), pending))
    bar.close()

    counts = [len(_read_index(out_dir / SHARDS_DIR / name)) for name in shard_names]
    header = dict(
        build,
        complete=True,
        num_items=sum(counts),
        shards=[{"name": n, "num_items": c} for n, c in zip(shard_names, counts)],
        num_errors=len(errors),
        semantic_rate=float(tokenizer.frame_rate),
        acoustic_rate=float(codec.frame_rate),
        num_quantizers=int(codec.num_quantizers),
        codebook_size=int(codec.codebook_size),
        semantic_vocab_size=int(tokenizer.vocab_size),
        tokenizer_sample_rate=int(tokenizer.sample_rate),
        codec_sample_rate=int(codec.sample_rate),
        semantic_dtype=semantic_dtype.name,
        acoustic_dtype=acoustic_dtype.name,
    )
    atomic_write_text(out_dir / HEADER_NAME, json.dumps(header, indent=2) + "\n")
    if progress:
        _print_summary(out_dir, header, len(entries) - len(todo), errors)
    return TokenCache(out_dir)


def _prepare_directory(out_dir: Path, build: dict) -> tuple[set[str], list[str]]:
    """Start or resume a build: check it matches the one begun here, drop half-written shards.

    Returns the ids already tokenized and the names of the finished shards.
    """
    build_path = out_dir / BUILD_NAME
    shards_dir = out_dir / SHARDS_DIR
    if build_path.exists():
        stored = read_cache_json(build_path, out_dir, "token cache build record")
        if not isinstance(stored, dict):
            raise CheckpointError(f"{build_path} is corrupt; delete {out_dir} and rebuild")
        problems = []
        for key in ("tokenizer", "codec"):
            if stored.get(key) != build[key]:
                problems.append(describe_difference(key, stored.get(key) or {}, build[key]))
        for key in ("format_version", "manifests", "split", "shard_size"):
            if stored.get(key) != build[key]:
                problems.append(f"{key}: cache has {stored.get(key)!r}, given {build[key]!r}")
        if problems:
            raise CheckpointError(
                f"{out_dir} holds a token cache built differently ({'; '.join(problems)}); "
                "use a new output folder or delete this one"
            )
    elif out_dir.exists() and any(p.name not in FOREIGN_ALLOWED for p in out_dir.iterdir()):
        raise CheckpointError(f"{out_dir} exists, is not empty and is not a token cache; choose an empty folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(build_path, json.dumps(build, indent=2) + "\n")
    shards_dir.mkdir(exist_ok=True)
    done: set[str] = set()
    names: list[str] = []
    for path in sorted(shards_dir.iterdir()):
        if path.name.startswith(TMP_PREFIX):
            shutil.rmtree(path)  # a shard interrupted while being written
            continue
        for item in _read_index(path):
            done.add(item["id"])
        names.append(path.name)
    if names != [f"shard_{k:05d}" for k in range(len(names))]:
        raise CheckpointError(f"{shards_dir} has unexpected shard names {names}; delete {out_dir} and rebuild")
    return done, names


def _tokenize_entry(entry: dict, tokenizer, codec, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """-> ``semantic`` int64 ``[S]`` and ``acoustic`` int64 ``[F, Q]`` for one manifest entry."""
    from audiolm_lib.audio import AudioError, load_audio

    # shorter than one frame of the slower stream, a file would become a "frame" of mostly padding
    min_seconds = max(1.0 / float(codec.frame_rate), 1.0 / float(tokenizer.frame_rate),
                      getattr(tokenizer, "min_samples", 0) / float(tokenizer.sample_rate))
    waves = {rate: load_audio(entry["audio"], sample_rate=rate, min_seconds=min_seconds)
             for rate in {int(tokenizer.sample_rate), int(codec.sample_rate)}}
    with torch.inference_mode():
        semantic = tokenizer.tokenize(waves[int(tokenizer.sample_rate)][None].to(device))
        acoustic = codec.encode(waves[int(codec.sample_rate)][None].to(device))
    if semantic.ndim != 2 or semantic.shape[0] != 1:
        raise RuntimeError(f"tokenizer.tokenize returned shape {tuple(semantic.shape)}, expected [1, S]")
    if acoustic.ndim != 3 or acoustic.shape[:2] != (1, int(codec.num_quantizers)):
        raise RuntimeError(f"codec.encode returned shape {tuple(acoustic.shape)}, expected [1, {codec.num_quantizers}, F]")
    semantic, acoustic = semantic[0].cpu().long().numpy(), acoustic[0].cpu().long().numpy().T
    if semantic.shape[0] == 0 or acoustic.shape[0] == 0:
        raise AudioError(f"{entry['audio']} is too short: {semantic.shape[0]} semantic ids, {acoustic.shape[0]} code frames")
    for name, ids, limit in (("semantic", semantic, tokenizer.vocab_size), ("acoustic", acoustic, codec.codebook_size)):
        if ids.min() < 0 or ids.max() >= limit:
            raise RuntimeError(f"{name} ids of {entry['id']} fall outside [0, {limit}): {ids.min()}..{ids.max()}")
    return semantic, acoustic


def _write_shard(out_dir: Path, number: int, items: list[tuple[dict, np.ndarray, np.ndarray]]) -> str:
    """Write one shard into a temp folder, then rename it into place (a shard is there whole or not at all)."""
    name = f"shard_{number:05d}"
    tmp = out_dir / SHARDS_DIR / f"{TMP_PREFIX}{name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    index, s_offset, a_offset = [], 0, 0
    for entry, semantic, acoustic in items:
        index.append(
            {
                "id": entry["id"],
                "split": entry.get("split", "train"),
                "speaker": entry.get("speaker"),
                "text": entry.get("text"),
                "semantic_offset": s_offset,
                "semantic_length": int(semantic.shape[0]),
                "acoustic_offset": a_offset,
                "acoustic_length": int(acoustic.shape[0]),
            }
        )
        s_offset += semantic.shape[0]
        a_offset += acoustic.shape[0]
    for file_name, array in (
        ("semantic.npy", np.concatenate([s for _, s, _ in items])),
        ("acoustic.npy", np.concatenate([a for _, _, a in items], axis=0)),
    ):
        with open(tmp / file_name, "wb") as handle:
            np.save(handle, array)
            handle.flush()
            os.fsync(handle.fileno())
    (tmp / "index.json").write_text(json.dumps(index) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / SHARDS_DIR / name)
    return name


def _read_index(shard_dir: Path) -> list[dict]:
    return read_index(shard_dir)


def _print_summary(out_dir: Path, header: dict, reused: int, errors: list[dict]) -> None:
    lines = [
        f"token cache {out_dir}: {header['num_items']} items in {len(header['shards'])} shard(s)"
        f" ({reused} reused from an earlier run), {len(errors)} error(s)"
    ]
    for error in errors[:20]:
        lines.append(f"  skipped {error['id']}: {error['error']}")
    if len(errors) > 20:
        lines.append(f"  ... {len(errors) - 20} more in {out_dir / ERRORS_NAME}")
    print("\n".join(lines), file=sys.stderr)


# --------------------------------------------------------------------------------------------- read
class TokenCache:
    """Read side of a token cache: ``cache[i]`` -> ids of item ``i``, from memory-mapped shards.

    Attributes (from the header): ``semantic_rate``, ``acoustic_rate`` (Hz), ``num_quantizers``,
    ``codebook_size``, ``semantic_vocab_size``, and ``header`` (the whole JSON header).

    Picklable for DataLoader workers: arrays are opened lazily in each process.
    """

    def __init__(self, directory: Path | str):
        directory = Path(directory)
        header_path = directory / HEADER_NAME
        if not directory.is_dir():
            raise CheckpointError(f"token cache not found: {directory}")
        if not header_path.exists():
            hint = " (an interrupted build? run build_token_cache again to resume it)" if (directory / BUILD_NAME).exists() else ""
            raise CheckpointError(f"{directory} is not a complete token cache: no {HEADER_NAME}{hint}")
        header = read_cache_json(header_path, directory, "token cache header")  # regular, bounded: never blocks
        if not isinstance(header, dict) or not header.get("complete") or "shards" not in header:
            raise CheckpointError(f"{header_path} does not describe a complete token cache")
        if header.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{directory}: token cache format {header.get('format_version')}, expected {FORMAT_VERSION}")
        check_header(header, header_path)  # sizes bounded, shard names the builder's own
        self.directory = directory
        self.header = header
        self.semantic_rate = float(header["semantic_rate"])
        self.acoustic_rate = float(header["acoustic_rate"])
        self.num_quantizers = int(header["num_quantizers"])
        self.codebook_size = int(header["codebook_size"])
        self.semantic_vocab_size = int(header["semantic_vocab_size"])
        self._items: list[tuple[int, dict]] = []
        self._shard_dirs: list[Path] = []
        self._shard_items: list[list[dict]] = []
        for number, shard in enumerate(header["shards"]):
            shard_dir = shard_folder(directory / SHARDS_DIR, shard["name"])  # inside the cache, not a symlink out
            index = _read_index(shard_dir)
            if len(index) != shard["num_items"]:
                raise CheckpointError(f"{shard_dir} holds {len(index)} items, header says {shard['num_items']}")
            self._shard_dirs.append(shard_dir)
            self._shard_items.append(index)
            self._items.extend((number, item) for item in index)
        self._arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> dict:
        """-> ``{"id": str, "semantic": LongTensor[S], "acoustic": LongTensor[Q, F], "speaker", "text", "split"}``."""
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"token cache index must be an int, got {type(i).__name__}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"token cache index {i} out of range for {len(self)} items")
        shard, item = self._items[int(i)]
        semantic_ids, acoustic_ids = self._shard_arrays(shard)
        s0, a0 = item["semantic_offset"], item["acoustic_offset"]
        semantic = np.asarray(semantic_ids[s0 : s0 + item["semantic_length"]], dtype=np.int64)
        acoustic = np.asarray(acoustic_ids[a0 : a0 + item["acoustic_length"]], dtype=np.int64).T
        return {
            "id": item["id"],
            "semantic": torch.from_numpy(semantic),
            "acoustic": torch.from_numpy(np.ascontiguousarray(acoustic)),
            "speaker": item.get("speaker"),
            "text": item.get("text"),
            "split": item["split"],
        }

    def _shard_arrays(self, shard: int) -> tuple[np.ndarray, np.ndarray]:
        if shard not in self._arrays:
            shard_dir = self._shard_dirs[shard]
            self._arrays[shard] = open_shard_arrays(shard_dir, self._shard_items[shard], self.num_quantizers)
        return self._arrays[shard]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_arrays"] = {}  # memmaps are reopened in the receiving process, not copied
        return state

    def lengths(self) -> list[int]:
        """Acoustic frames per item (for crop sampling)."""
        return [item["acoustic_length"] for _, item in self._items]

    def semantic_lengths(self) -> list[int]:
        """Semantic ids per item."""
        return [item["semantic_length"] for _, item in self._items]

    def ids(self) -> list[str]:
        return [item["id"] for _, item in self._items]

    def speakers(self) -> list[str | None]:
        """Each item's ``speaker`` from the index (``None`` where its manifest named none)."""
        return [item.get("speaker") for _, item in self._items]

    def indices(self, split: str | None = None) -> list[int]:
        """Positions of the items of ``split`` (all items for ``None``)."""
        return [k for k, (_, item) in enumerate(self._items) if split is None or item["split"] == split]

    @property
    def errors(self) -> list[dict]:
        """Items the last build skipped: ``{"id", "audio", "error"}`` each."""
        path = self.directory / ERRORS_NAME
        if not path.exists():
            return []
        return [json.loads(line) for line in read_lines(path, _is_json_object, "errors")]

    @property
    def provenance(self) -> dict:
        """``{"semantic_tokenizer": ..., "codec": ...}`` summaries (:func:`identity_summary`) of the components
        this cache was built with; a stage trained on it records this as ``trained_on``."""
        return {role: identity_summary(self.header.get(key) or {})
                for role, key in (("semantic_tokenizer", "tokenizer"), ("codec", "codec"))}

    def check_compatible(self, tokenizer=None, codec=None) -> None:
        """Raise :class:`CheckpointError` if ``tokenizer``/``codec`` are not the ones this cache was built with."""
        for key, component in (("tokenizer", tokenizer), ("codec", codec)):
            if component is None:
                continue
            current = component_identity(component)
            if self.header.get(key) != current:
                raise CheckpointError(
                    f"token cache {self.directory} does not match this {key}: "
                    + describe_difference(key, self.header.get(key) or {}, current)
                )

    def __repr__(self) -> str:
        return (
            f"TokenCache({str(self.directory)!r}, items={len(self)}, semantic {self.semantic_rate:g} Hz x "
            f"{self.semantic_vocab_size}, acoustic {self.acoustic_rate:g} Hz x {self.num_quantizers} x {self.codebook_size})"
        )


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
