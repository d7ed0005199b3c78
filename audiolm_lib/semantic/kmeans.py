"""k-means over frame features: streaming fit, ``.npy`` + JSON storage, batched assignment, run-length dedupe.

Fitting streams feature batches through scikit-learn's ``MiniBatchKMeans.partial_fit`` (bounded memory), or,
when ``faiss`` is installed, trains ``faiss.Kmeans`` on a bounded reservoir sample of frames. Centroids are
stored as ``<name>.npy`` with a small ``<name>.json`` header; never as a pickle.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from torch import nn

from audiolm_lib.inputs import InputFileError, check_input_file, read_json
from audiolm_lib.limits import check_bounds
from audiolm_lib.serialization import CheckpointError, atomic_write, atomic_write_text

KMEANS_FORMAT = "audiolm_lib.kmeans"
MIN_FRAMES_PER_CLUSTER = 10  # fewer frames per cluster than this: fitted, with a warning


class KMeans(nn.Module):
    """Nearest-centroid quantizer holding ``centroids: Tensor[K, D]`` as a buffer (saved with its owner)."""

    def __init__(self, num_clusters: int, dim: int, centroids: torch.Tensor | np.ndarray | None = None):
        super().__init__()
        if num_clusters < 1 or dim < 1:
            raise ValueError(f"k-means needs num_clusters >= 1 and dim >= 1, got {num_clusters}, {dim}")
        if centroids is None:
            centroids = torch.zeros(num_clusters, dim)
        centroids = torch.as_tensor(np.asarray(centroids) if not isinstance(centroids, torch.Tensor) else centroids).float()
        if tuple(centroids.shape) != (num_clusters, dim):
            raise ValueError(f"centroids have shape {tuple(centroids.shape)}, expected ({num_clusters}, {dim})")
        if not centroids.is_meta and not bool(torch.isfinite(centroids).all()):
            raise ValueError("k-means centroids hold NaN or Inf values")
        self.register_buffer("centroids", centroids.contiguous())

    @property
    def num_clusters(self) -> int:
        return self.centroids.shape[0]

    @property
    def dim(self) -> int:
        return self.centroids.shape[1]

    @torch.no_grad()
    def assign(self, features: torch.Tensor, chunk_frames: int = 65536) -> torch.Tensor:
        """Nearest centroid ids: ``Tensor[..., D]`` -> ``LongTensor[...]`` (chunked to bound memory)."""
        if features.shape[-1] != self.dim:
            raise ValueError(f"features have dimension {features.shape[-1]}, the k-means centroids {self.dim}")
        lead = features.shape[:-1]
        flat = features.reshape(-1, self.dim).to(self.centroids.device, self.centroids.dtype)
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; ||x||^2 does not change the argmin
        centroid_norms = self.centroids.square().sum(dim=1)
        out = torch.empty(flat.shape[0], dtype=torch.long, device=flat.device)
        for start in range(0, flat.shape[0], chunk_frames):
            block = flat[start : start + chunk_frames]
            scores = torch.addmm(centroid_norms, block, self.centroids.T, alpha=-2.0)
            out[start : start + chunk_frames] = scores.argmin(dim=1)
        return out.reshape(lead)

    forward = assign

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> Path:
        """Write ``path`` (``.npy`` added if missing) and its ``.json`` header next to it."""
        path = Path(path)
        if path.suffix != ".npy":
            path = path.with_suffix(path.suffix + ".npy") if path.suffix else path.with_suffix(".npy")
        array = self.centroids.detach().cpu().numpy().astype(np.float32)
        atomic_write(path, lambda tmp: _save_npy(tmp, array))
        header = {"format": KMEANS_FORMAT, "num_clusters": self.num_clusters, "dim": self.dim, **(extra or {})}
        atomic_write_text(path.with_suffix(".json"), json.dumps(header, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "KMeans":
        """Read centroids written by :meth:`save` (``.npy``, header checked if present)."""
        path = Path(path)
        if path.suffix != ".npy":
            path = path.with_suffix(".npy")
        if not path.exists():
            raise CheckpointError(f"k-means centroids not found: {path}")
        try:
            check_input_file(path, "k-means centroids")
            with open(path, "rb") as handle:  # shape and dtype from the .npy header, before any allocation
                from numpy.lib import format as npy

                version = npy.read_magic(handle)
                read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
                shape, _, dtype = read(handle)
            if len(shape) != 2 or dtype.kind != "f" or dtype.hasobject:
                raise CheckpointError(f"{path}: expected a float array [num_clusters, dim], got {dtype} {shape}")
            check_bounds({"num_clusters": shape[0], "feature_dim": shape[1]}, str(path))
            if shape[0] * shape[1] * dtype.itemsize > path.stat().st_size:
                raise CheckpointError(f"cannot read k-means centroids {path}: its header claims {shape}, more than "
                                      "the file holds (truncated?)")
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:  # InputFileError and LimitError are ValueErrors
            raise CheckpointError(f"cannot read k-means centroids {path} (truncated or not a .npy?): {exc}") from exc
        if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
            raise CheckpointError(f"{path}: expected a float array [num_clusters, dim], got {array.dtype} {array.shape}")
        if not np.isfinite(array.astype(np.float32)).all():
            raise CheckpointError(f"{path}: the k-means centroids hold NaN or Inf values")
        header_path = path.with_suffix(".json")
        if header_path.exists():
            header = read_header(path)
            if (header.get("num_clusters"), header.get("dim")) != tuple(array.shape):
                raise CheckpointError(f"{header_path} says {header.get('num_clusters')}x{header.get('dim')}, "
                                      f"but {path.name} holds {array.shape[0]}x{array.shape[1]}")
        return cls(array.shape[0], array.shape[1], torch.from_numpy(array.astype(np.float32)))


def read_header(path: str | os.PathLike) -> dict:
    header_path = Path(path).with_suffix(".json")
    try:
        header = read_json(header_path, "k-means header")
    except (OSError, InputFileError) as exc:
        raise CheckpointError(f"cannot read k-means header {header_path}: {exc}") from exc
    if not isinstance(header, dict) or header.get("format") != KMEANS_FORMAT:
        raise CheckpointError(f"{header_path} is not an audiolm_lib k-means header")
    return header


def _save_npy(tmp: str, array: np.ndarray) -> None:
    with open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


# --------------------------------------------------------------------------------------------- fitting
def _batches(stream: Iterable[torch.Tensor | np.ndarray], batch_frames: int) -> Iterator[np.ndarray]:
    """Regroup ``[N_i, D]`` feature blocks into ``[batch_frames, D]`` arrays (the last may be shorter)."""
    buffer: list[np.ndarray] = []
    filled = 0
    for block in stream:
        array = block.detach().cpu().float().numpy() if isinstance(block, torch.Tensor) else np.asarray(block, np.float32)
        array = array.reshape(-1, array.shape[-1])
        buffer.append(array)
        filled += array.shape[0]
        while filled >= batch_frames:
            stacked = np.concatenate(buffer)
            yield stacked[:batch_frames]
            rest = stacked[batch_frames:]
            buffer, filled = ([rest] if len(rest) else []), len(rest)
    if filled:
        yield np.concatenate(buffer)


def fit_kmeans(
    features: Iterable[torch.Tensor | np.ndarray],
    num_clusters: int,
    batch_frames: int = 10000,
    max_frames: int = 2_000_000,
    seed: int = 0,
    use_faiss: bool | None = None,
    progress: bool = True,
    total_frames: int | None = None,
) -> KMeans:
    """Fit k-means on a stream of ``Tensor[N_i, D]`` feature blocks.

    Args:
        features: an iterable (may be a generator, consumed once) of frame features.
        num_clusters: K.
        batch_frames: frames per MiniBatchKMeans step (raised to ``3 * K`` so k-means++ init has room).
        max_frames: stop after this many frames (sklearn) / reservoir size (faiss).
        use_faiss: ``None`` = use faiss when installed.
        total_frames: how many frames ``features`` will yield, if known (the progress bar's total).

    Fewer than :data:`MIN_FRAMES_PER_CLUSTER` frames per cluster is fitted, with a warning (many clusters end up
    unused or fitted to a handful of frames); fewer frames than clusters is an error.

    Returns:
        :class:`KMeans` with ``Tensor[K, D]`` centroids.
    """
    from tqdm.auto import tqdm

    if use_faiss is None:
        try:
            import faiss  # noqa: F401

            use_faiss = True
        except ImportError:
            use_faiss = False
    batch_frames = max(batch_frames, 3 * num_clusters)
    total = None if total_frames is None else min(int(total_frames), max_frames)
    bar = tqdm(total=total, unit="frame", desc="k-means", disable=not progress, leave=False)
    try:
        fit = _fit_faiss if use_faiss else _fit_sklearn
        centroids, seen = fit(features, num_clusters, batch_frames, max_frames, seed, bar)
    finally:
        bar.close()
    if seen < MIN_FRAMES_PER_CLUSTER * num_clusters:
        warnings.warn(f"k-means fitted {num_clusters} clusters on only {seen} frames ({seen / num_clusters:.1f} per "
                      f"cluster; at least {MIN_FRAMES_PER_CLUSTER} per cluster is advisable): expect unused or noisy "
                      "clusters; give more audio or fewer clusters", stacklevel=2)
    return KMeans(centroids.shape[0], centroids.shape[1], torch.from_numpy(np.ascontiguousarray(centroids, np.float32)))


def _fit_sklearn(stream, num_clusters, batch_frames, max_frames, seed, bar) -> np.ndarray:
    from sklearn.cluster import MiniBatchKMeans

    model = MiniBatchKMeans(n_clusters=num_clusters, batch_size=batch_frames, random_state=seed, n_init=3)
    seen = 0
    fitted = False
    for batch in _batches(stream, batch_frames):
        if not fitted and batch.shape[0] < num_clusters:
            raise ValueError(f"only {batch.shape[0]} feature frames to fit {num_clusters} clusters; give more audio "
                             f"or fewer clusters")
        model.partial_fit(batch)
        fitted = True
        seen += batch.shape[0]
        bar.update(batch.shape[0])
        if seen >= max_frames:
            break
    if not fitted:
        raise ValueError("no feature frames to fit k-means on (no audio, or every file too short)")
    return model.cluster_centers_, seen


def _fit_faiss(stream, num_clusters, batch_frames, max_frames, seed, bar) -> np.ndarray:
    import faiss

    rng = np.random.default_rng(seed)
    reservoir: np.ndarray | None = None
    seen = 0
    for batch in _batches(stream, batch_frames):
        if reservoir is None:
            reservoir = np.empty((max_frames, batch.shape[1]), np.float32)
        # reservoir sampling (vectorised): a uniform sample of everything seen, in bounded memory
        fill = max(0, min(max_frames - seen, batch.shape[0]))
        reservoir[seen : seen + fill] = batch[:fill]
        if fill < batch.shape[0]:
            positions = np.arange(seen + fill, seen + batch.shape[0])
            slots = rng.integers(0, positions + 1)
            keep = slots < max_frames
            reservoir[slots[keep]] = batch[fill:][keep]
        seen += batch.shape[0]
        bar.update(batch.shape[0])
    if reservoir is None:
        raise ValueError("no feature frames to fit k-means on (no audio, or every file too short)")
    sample = np.ascontiguousarray(reservoir[: min(seen, max_frames)])
    if sample.shape[0] < num_clusters:
        raise ValueError(f"only {sample.shape[0]} feature frames to fit {num_clusters} clusters")
    kmeans = faiss.Kmeans(sample.shape[1], num_clusters, niter=50, seed=seed, verbose=False)
    kmeans.train(sample)
    return kmeans.centroids, seen


# --------------------------------------------------------------------------------------------- dedupe
def dedupe(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Collapse runs of repeated tokens (AudioLM): ``LongTensor[F]`` -> (``LongTensor[F']``, run lengths ``[F']``)."""
    if tokens.ndim != 1:
        raise ValueError(f"dedupe takes one sequence LongTensor[F], got shape {tuple(tokens.shape)}; loop over the batch")
    if tokens.numel() == 0:
        return tokens.clone(), torch.zeros(0, dtype=torch.long, device=tokens.device)
    unique, counts = torch.unique_consecutive(tokens, return_counts=True)
    return unique, counts


def undedupe(tokens: torch.Tensor, run_lengths: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`dedupe`: repeat each token by its run length -> ``LongTensor[F]``."""
    if tokens.shape != run_lengths.shape or tokens.ndim != 1:
        raise ValueError(f"tokens {tuple(tokens.shape)} and run_lengths {tuple(run_lengths.shape)} must be equal 1-D shapes")
    if (run_lengths < 1).any():
        raise ValueError("run lengths must be >= 1")
    return torch.repeat_interleave(tokens, run_lengths)
