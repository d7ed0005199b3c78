"""Phase gradient heap integration (PGHI): a phase for an STFT magnitude, without iterating.

Průša, Balazs & Søndergaard, "A noniterative method for reconstruction of phase from STFT magnitude" (IEEE/ACM
TASLP 2017). For a window with a Gaussian-like shape the log-magnitude's gradients give the phase's: its derivative
along time (the instantaneous frequency) from the log-magnitude's slope across frequency, its derivative along
frequency (the local group delay) from the slope across time. The phase is integrated from the largest coefficient
outward, always continuing from the largest coefficient already reached (a max-heap), so it follows the ridges
(harmonics, pitch pulses) through the loud parts first; coefficients below ``tolerance`` of the maximum get none.

Why here: the codec rebuilds a phase for its decoded magnitudes. The phase-locked start it used before (every bin
takes its nearest peak's phase, advanced at the peak's frequency) assumes resolved, steady partials; a low voice's
harmonics (80-110 Hz, 3-4 bins apart at the 640-point window) are not, and Griffin-Lim from there leaves the
decoded speech without its periodicity (BENCHMARKS.md, issue 20's twenty-fourth pass: on validation recordings at
their true magnitudes the spectral convergence without iterations is 0.03-0.07 here against 0.26-0.35 for the
phase-locked start, 0.11-0.14 after its 8 Griffin-Lim iterations).

The integration is a sequential heap walk, so it is compiled with numba (cached on disk after the first call).
`pghipy` implements the same algorithm but compiles it again in every process (~10 s), which a decoder called
from the command line cannot afford; this module is checked against it in the tests.
"""
from __future__ import annotations

import math

import numpy as np
import torch

# Hann window of length L: the Gaussian it is closest to has time-frequency ratio gamma = 0.25645 L^2 (Průša et al.
# 2017, table 1)
HANN_GAMMA = 0.25645


def phase_gradients(log_magnitude: np.ndarray, n_fft: int, hop: int, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """``log_magnitude`` ``[N, bins]`` (frame-major) -> the phase's steps ``(along time, along frequency)``, each
    ``[N, bins]`` in radians: the phase change from one frame to the next, and from one bin to the next (phase
    referenced to the frame's start, as ``torch.stft`` gives it)."""
    padded = np.pad(log_magnitude, 1, mode="edge")
    across_bins = (padded[1:-1, 2:] - padded[1:-1, :-2]) / 2
    across_frames = (padded[2:, 1:-1] - padded[:-2, 1:-1]) / 2
    scale = gamma / (hop * n_fft)
    bins = np.arange(log_magnitude.shape[1])
    time_step = across_bins / scale + 2 * np.pi * hop * bins / n_fft
    frequency_step = -scale * across_frames + np.pi
    return time_step, frequency_step


def _before(key: float, cell: int, other_key: float, other_cell: int) -> bool:
    """Heap order: the larger magnitude first, on a tie the earlier cell (so the walk, and the phase, is unique)."""
    return key > other_key or (key == other_key and cell < other_cell)


def _push(keys: np.ndarray, cells: np.ndarray, size: int, key: float, cell: int) -> int:
    """Push onto the binary max-heap held in ``keys`` / ``cells`` (the first ``size`` entries); returns the size."""
    at = size
    while at > 0:
        parent = (at - 1) >> 1
        if not _before(key, cell, keys[parent], cells[parent]):
            break
        keys[at], cells[at] = keys[parent], cells[parent]
        at = parent
    keys[at], cells[at] = key, cell
    return size + 1


def _pop(keys: np.ndarray, cells: np.ndarray, size: int) -> tuple[int, int]:
    """Pop the largest: returns ``(its cell, the new size)``."""
    top, size = cells[0], size - 1
    key, cell, at = keys[size], cells[size], 0
    while True:
        child = 2 * at + 1
        if child >= size:
            break
        if child + 1 < size and _before(keys[child + 1], cells[child + 1], keys[child], cells[child]):
            child += 1
        if not _before(keys[child], cells[child], key, cell):
            break
        keys[at], cells[at] = keys[child], cells[child]
        at = child
    keys[at], cells[at] = key, cell
    return top, size


def _walk(seed: int, bins: int, flat_magnitude: np.ndarray, time_flat: np.ndarray, frequency_flat: np.ndarray,
          phase: np.ndarray, done: np.ndarray, keys: np.ndarray, cells: np.ndarray) -> None:
    """Integrate outward from ``seed`` (phase 0 there), always from the loudest cell reached, until none is left."""
    total = flat_magnitude.shape[0]
    done[seed] = True
    size = _push(keys, cells, 0, flat_magnitude[seed], seed)
    while size > 0:
        cell, size = _pop(keys, cells, size)
        k = cell % bins
        # the next and the previous frame (along time), the next and the previous bin of this frame
        for neighbour, step, along_time in ((cell + bins, 1, True), (cell - bins, -1, True), (cell + 1, 1, False),
                                            (cell - 1, -1, False)):
            inside = 0 <= neighbour < total if along_time else 0 <= k + step < bins
            if not inside or done[neighbour]:
                continue
            gradient = time_flat if along_time else frequency_flat
            phase[neighbour] = phase[cell] + step * (gradient[cell] + gradient[neighbour]) / 2
            done[neighbour] = True
            size = _push(keys, cells, size, flat_magnitude[neighbour], neighbour)


def _integrate(magnitude: np.ndarray, time_step: np.ndarray, frequency_step: np.ndarray, tolerance: float,
               order: np.ndarray) -> np.ndarray:
    """The heap walk over ``magnitude`` ``[N, bins]``: from the loudest cell, then from the loudest one no walk has
    reached, and so on; ``order``: the flat cells, the loudest first (sorted by numpy, ~3x faster than numba)."""
    # a heap on two preallocated arrays: each cell enters it once, so it never holds more than all of them
    # (numba's heapq on a list of tuples is ~2x slower here)
    frames, bins = magnitude.shape
    flat_magnitude = magnitude.ravel()
    phase = np.zeros(frames * bins)
    done = flat_magnitude < flat_magnitude.max() * tolerance  # too quiet to matter: phase 0
    time_flat, frequency_flat = time_step.ravel(), frequency_step.ravel()
    keys = np.empty(frames * bins)
    cells = np.empty(frames * bins, dtype=np.int64)
    for seed in order:
        if not done[seed]:
            _walk(seed, bins, flat_magnitude, time_flat, frequency_flat, phase, done, keys, cells)
    return phase.reshape(frames, bins)


_compiled = None


def _integrator():
    """The compiled heap walk (numba, cached on disk); numba is a dependency of the library."""
    global _compiled
    if _compiled is None:
        try:
            import numba
        except ImportError as error:  # a dependency of the library; named, as decoding cannot go on without it
            raise ImportError("phase_start='pghi' needs numba (pip install numba), or set the codec's "
                              "config.phase_start to 'locked'") from error

        global _before, _push, _pop, _walk
        _before = numba.njit(cache=True)(_before)
        _push, _pop = numba.njit(cache=True)(_push), numba.njit(cache=True)(_pop)
        _walk = numba.njit(cache=True)(_walk)
        _compiled = numba.njit(cache=True)(_integrate)
    return _compiled


def pghi_phase(magnitude: torch.Tensor, n_fft: int, hop: int, gamma: float = HANN_GAMMA,
               tolerance: float = 1e-4) -> torch.Tensor:
    """A phase for frame-major STFT magnitudes by phase gradient heap integration.

    Args:
        magnitude: ``Tensor[B, N, bins]`` non-negative magnitudes of a Hann-window STFT (``n_fft``, ``hop``).
        gamma: the window's time-frequency ratio over ``n_fft ** 2`` (Hann: :data:`HANN_GAMMA`).
        tolerance: coefficients below this share of each item's largest get phase 0 (none is integrated).

    Returns:
        ``Tensor[B, N, bins]`` phases in ``[0, 2 pi)``, on ``magnitude``'s device, float32.
    """
    if magnitude.dim() != 3:
        raise ValueError(f"magnitude must be [B, frames, bins], got {tuple(magnitude.shape)}")
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance}")
    integrate = _integrator()
    values = magnitude.detach().double().cpu().numpy()
    phases = []
    for item in values:
        if item.size == 0 or not item.max() > 0:  # silence (or nothing): no phase to integrate
            phases.append(np.zeros_like(item))
            continue
        time_step, frequency_step = phase_gradients(np.log(np.maximum(item, 1e-300)), n_fft, hop,
                                                    gamma * n_fft ** 2)
        phases.append(np.remainder(integrate(np.ascontiguousarray(item), time_step, frequency_step,
                                             float(tolerance), np.argsort(-item.ravel())), 2 * math.pi))
    return torch.from_numpy(np.stack(phases)).float().to(magnitude.device)
