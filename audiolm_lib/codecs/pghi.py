"""Phase gradient heap integration (PGHI): a phase for an STFT magnitude, without iterating.

Průša, Balazs & Søndergaard, "A noniterative method for reconstruction of phase from STFT magnitude" (IEEE/ACM
TASLP 2017). For a window with a Gaussian-like shape the log-magnitude's gradients give the phase's: its derivative
along time (the instantaneous frequency) from the log-magnitude's slope across frequency, its derivative along
frequency (the local group delay) from the slope across time. The phase is integrated from the largest coefficient
outward, always continuing from the largest coefficient already reached (a priority queue), so it follows the ridges
(harmonics, pitch pulses) through the loud parts first; coefficients below ``tolerance`` of the maximum get none.

Why here: the codec rebuilds a phase for its decoded magnitudes. The phase-locked start it used before (every bin
takes its nearest peak's phase, advanced at the peak's frequency) assumes resolved, steady partials; a low voice's
harmonics (80-110 Hz, 3-4 bins apart at the 640-point window) are not, and Griffin-Lim from there leaves the
decoded speech without its periodicity (BENCHMARKS.md, issue 20's twenty-fourth pass: on validation recordings at
their true magnitudes the spectral convergence without iterations is 0.03-0.07 here against 0.26-0.35 for the
phase-locked start, 0.11-0.14 after its 8 Griffin-Lim iterations).

The integration is a sequential walk, so it is compiled with numba (cached on disk after the first call).
`pghipy` implements the same algorithm but compiles it again in every process (~10 s), which a decoder called
from the command line cannot afford; this module is checked against it in the tests.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

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


# The walk's order: magnitudes that differ by less than this are taken as equal (any of them may come first). Exact
# ordering needs a binary heap, O(log n) per cell; at 0.01 dB a bucket queue does the same walk in O(1) per cell,
# about twice as fast (10 s of decoded noise: 0.11 -> 0.05 s with the sort of the seeds). On the codec's decoded
# magnitudes of validation clips the audio is as consistent, as voiced and as DNSMOS-rated (issue 20's twenty-fifth
# pass, bench/results/validation_i41/); 0.01 dB is far below any decoder's error.
ORDER_RESOLUTION_DB = 0.01


def _loudest_first(buckets: np.ndarray, count: int) -> np.ndarray:
    """The flat cells ordered by bucket, the loudest first (a counting sort: O(n), no comparisons)."""
    starts = np.zeros(count + 1, dtype=np.int64)
    for bucket in buckets:
        starts[count - 1 - bucket + 1] += 1
    for at in range(count):
        starts[at + 1] += starts[at]
    order = np.empty(buckets.shape[0], dtype=np.int64)
    for cell in range(buckets.shape[0]):
        slot = count - 1 - buckets[cell]
        order[starts[slot]] = cell
        starts[slot] += 1
    return order


def _highest_bit(word: np.uint64) -> int:
    """The index of the highest set bit of a non-zero ``word``."""
    n = 0
    for shift in (32, 16, 8, 4, 2, 1):
        if word >> np.uint64(shift):
            word >>= np.uint64(shift)
            n += shift
    return n


def _visit(cell: int, neighbour: int, step: float, gradient: np.ndarray, buckets: np.ndarray, phase: np.ndarray,
           done: np.ndarray, heads: np.ndarray, following: np.ndarray, occupied: np.ndarray) -> int:
    """Give ``neighbour`` its phase from ``cell`` (trapezoidal rule over ``gradient``, ``step`` +-1 along it) and
    push it onto its bucket's stack; returns the bucket."""
    phase[neighbour] = phase[cell] + step * (gradient[cell] + gradient[neighbour]) / 2
    done[neighbour] = True
    bucket = buckets[neighbour]
    following[neighbour], heads[bucket] = heads[bucket], neighbour
    occupied[bucket >> 6] |= np.uint64(1) << np.uint64(bucket & 63)
    return bucket


def _walk(seed: int, bins: int, buckets: np.ndarray, time_flat: np.ndarray, frequency_flat: np.ndarray,
          phase: np.ndarray, done: np.ndarray, heads: np.ndarray, following: np.ndarray, occupied: np.ndarray) -> None:
    """Integrate outward from ``seed`` (phase 0 there), always from a loudest cell reached, until none is left.

    The cells reached and not yet left sit in a bucket queue: one linked stack per magnitude bucket (``heads[b]``
    its last cell, ``following[cell]`` the one pushed before it), ``top`` the loudest bucket that may hold one, and
    a bit per bucket in ``occupied`` (64 to a word) that is set while its stack is not empty. Finding the next
    loudest bucket a word at a time instead of one bucket at a time made the walk 1.2-1.7x faster on noise, and the
    four neighbours written out instead of looped over a tuple 1.3x.
    """
    total = buckets.shape[0]
    one = np.uint64(1)
    done[seed] = True
    top = buckets[seed]
    following[seed], heads[top] = heads[top], seed
    occupied[top >> 6] |= one << np.uint64(top & 63)
    waiting = 1
    while waiting > 0:
        if heads[top] < 0:  # the loudest bucket below top that holds a cell
            word, bit = top >> 6, top & 63
            bits = occupied[word] & (((one << np.uint64(bit + 1)) - one) if bit < 63 else ~np.uint64(0))
            while bits == 0:
                word -= 1
                bits = occupied[word]
            top = word * 64 + _highest_bit(bits)
        cell = heads[top]
        heads[top] = following[cell]
        if heads[top] < 0:
            occupied[top >> 6] &= ~(one << np.uint64(top & 63))
        waiting -= 1
        k = cell % bins
        # the next and the previous frame (along time), the next and the previous bin of this frame
        if cell + bins < total and not done[cell + bins]:
            top = max(top, _visit(cell, cell + bins, 1.0, time_flat, buckets, phase, done, heads, following, occupied))
            waiting += 1
        if cell >= bins and not done[cell - bins]:
            top = max(top, _visit(cell, cell - bins, -1.0, time_flat, buckets, phase, done, heads, following, occupied))
            waiting += 1
        if k + 1 < bins and not done[cell + 1]:
            top = max(top, _visit(cell, cell + 1, 1.0, frequency_flat, buckets, phase, done, heads, following,
                                  occupied))
            waiting += 1
        if k > 0 and not done[cell - 1]:
            top = max(top, _visit(cell, cell - 1, -1.0, frequency_flat, buckets, phase, done, heads, following,
                                  occupied))
            waiting += 1


def _integrate(log_magnitude: np.ndarray, time_step: np.ndarray, frequency_step: np.ndarray, tolerance: float,
               resolution_db: float) -> np.ndarray:
    """The walk over ``log_magnitude`` ``[N, bins]``: from the loudest cell, then from the loudest one no walk has
    reached, and so on. Returns the phase in ``[0, 2 pi)``."""
    frames, bins = log_magnitude.shape
    flat_log = log_magnitude.ravel()
    peak = flat_log.max()
    # bucket b holds the magnitudes b * resolution_db to (b + 1) * resolution_db above the lowest one ordered (200 dB
    # below the peak at most: anything quieter shares bucket 0)
    lowest = peak + math.log(max(tolerance, 1e-10))
    per_bucket = 20.0 / math.log(10.0) / resolution_db
    done = np.empty(frames * bins, dtype=np.bool_)
    buckets = np.empty(frames * bins, dtype=np.int32)  # 32-bit cells and buckets: ~10 % faster (less memory to walk)
    for cell in range(frames * bins):
        done[cell] = tolerance > 0 and flat_log[cell] < lowest  # too quiet to matter: phase 0
        buckets[cell] = max(0, int((flat_log[cell] - lowest) * per_bucket))
    count = buckets.max() + 1
    heads = np.full(count, -1, dtype=np.int32)
    following = np.empty(frames * bins, dtype=np.int32)
    occupied = np.zeros(count // 64 + 1, dtype=np.uint64)
    phase = np.zeros(frames * bins)
    time_flat, frequency_flat = time_step.ravel(), frequency_step.ravel()
    for seed in _loudest_first(buckets, count):
        if not done[seed]:
            _walk(seed, bins, buckets, time_flat, frequency_flat, phase, done, heads, following, occupied)
    return (phase % (2 * math.pi)).reshape(frames, bins)


_compiled = None


def _integrator():
    """The compiled walk (numba, cached on disk); numba is a dependency of the library."""
    global _compiled
    if _compiled is None:
        try:
            import numba
        except ImportError as error:  # a dependency of the library; named, as decoding cannot go on without it
            raise ImportError("phase_start='pghi' needs numba (pip install numba), or set the codec's "
                              "config.phase_start to 'locked'") from error

        global _loudest_first, _highest_bit, _visit, _walk
        _loudest_first, _highest_bit = numba.njit(cache=True)(_loudest_first), numba.njit(cache=True)(_highest_bit)
        _visit = numba.njit(cache=True, inline="always")(_visit)
        _walk = numba.njit(cache=True)(_walk)
        _compiled = numba.njit(cache=True, nogil=True)(_integrate)
    return _compiled


def pghi_phase(magnitude: torch.Tensor, n_fft: int, hop: int, gamma: float = HANN_GAMMA,
               tolerance: float = 1e-4, resolution_db: float = ORDER_RESOLUTION_DB) -> torch.Tensor:
    """A phase for frame-major STFT magnitudes by phase gradient heap integration.

    Args:
        magnitude: ``Tensor[B, N, bins]`` non-negative magnitudes of a Hann-window STFT (``n_fft``, ``hop``).
        gamma: the window's time-frequency ratio over ``n_fft ** 2`` (Hann: :data:`HANN_GAMMA`).
        tolerance: coefficients below this share of each item's largest get phase 0 (none is integrated).
        resolution_db: magnitudes closer than this are taken as equal in the walk's order (:data:`ORDER_RESOLUTION_DB`).

    Returns:
        ``Tensor[B, N, bins]`` phases in ``[0, 2 pi)``, on ``magnitude``'s device, float32.
    """
    if magnitude.dim() != 3:
        raise ValueError(f"magnitude must be [B, frames, bins], got {tuple(magnitude.shape)}")
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance}")
    if not 1e-4 <= resolution_db <= 1:  # finer would take a bucket array of hundreds of megabytes
        raise ValueError(f"resolution_db must be in [1e-4, 1], got {resolution_db}")
    integrate = _integrator()
    values = magnitude.detach().double().cpu().numpy()
    if not (np.isfinite(values).all() and (values >= 0).all()):
        raise ValueError("magnitude must be finite and non-negative (a NaN, inf or negative value came in: a "
                         "decoder's output gone bad?)")

    def one(item: np.ndarray) -> np.ndarray:
        if item.size == 0 or not item.max() > 0:  # silence (or nothing): no phase to integrate
            return np.zeros_like(item)
        log_magnitude = np.log(np.maximum(item, 1e-300))
        time_step, frequency_step = phase_gradients(log_magnitude, n_fft, hop, gamma * n_fft ** 2)
        return integrate(log_magnitude, time_step, frequency_step, float(tolerance), float(resolution_db))

    # the walk is sequential within an item but releases the GIL, so a batch's items walk on torch's threads at once
    workers = min(len(values), torch.get_num_threads())
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            phases = list(pool.map(one, values))
    else:
        phases = [one(item) for item in values]
    return torch.from_numpy(np.stack(phases)).float().to(magnitude.device)
