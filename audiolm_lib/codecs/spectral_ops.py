"""STFT analysis / synthesis aligned to codec frames, and phase reconstruction from a magnitude spectrogram.

Alignment: a wave of ``T = F * hop_length`` samples has ``F * sub_frames`` STFT frames centred at
``0, stft_hop, 2 * stft_hop, ...`` (``torch.stft(center=True)`` without its last frame), so STFT frame
``f * sub_frames + j`` belongs to code frame ``f``.

Phase reconstruction (:func:`reconstruct_phase`): a phase-locked vocoder initialisation (every bin takes the
instantaneous frequency of its nearest spectral peak, estimated by parabolic interpolation of the
log-magnitude, integrated over time; bins around a peak are locked to the peak's phase with the Hann window's
alternating sign, as in Laroche & Dolson's identity phase locking), then a few iterations of the fast
Griffin-Lim algorithm (Perraudin et al. 2013) to make the STFT consistent. Fully vectorised: no per-frame
Python loop, so 10 s costs milliseconds. Its ``initial_phase`` takes another start instead: the codec's
``phase_start="pghi"`` hands it phase gradient heap integration (:mod:`audiolm_lib.codecs.pghi`, compiled), which
keeps low voices voiced where the phase-locked start does not.

Layout: ``torch.stft`` computes its frames frame-major (``[B, N, bins]`` in memory, returned as a transposed
view), and so does the codec's magnitude head. The Griffin-Lim loop and the phase-locked start therefore work on
frame-major ``[B, N, bins]`` tensors (:meth:`SpectralFrontEnd.stft_frames` / :meth:`~SpectralFrontEnd.istft_frames`):
every FFT and elementwise op then reads contiguous memory, where the ``[B, bins, N]`` views used to cost a copy per
op (and overlap-add by ``F.fold`` a slow ``col2im``). Same arithmetic, so the same wave up to float rounding.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class SpectralFrontEnd(torch.nn.Module):
    """STFT with ``n_fft`` window and ``stft_hop`` hop; ``sub_frames = hop_length / stft_hop`` per code frame."""

    def __init__(self, n_fft: int, stft_hop: int, hop_length: int):
        super().__init__()
        if hop_length % stft_hop:
            raise ValueError(f"hop_length {hop_length} must be a multiple of stft_hop {stft_hop}")
        if n_fft < stft_hop:
            raise ValueError(f"n_fft {n_fft} must be at least stft_hop {stft_hop}")
        self.n_fft = n_fft
        self.stft_hop = stft_hop
        self.hop_length = hop_length
        self.sub_frames = hop_length // stft_hop
        self.pieces = -(-n_fft // stft_hop)  # hop-sized pieces of one (zero-padded) window: frames overlapping a sample
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self._envelope_cache: tuple[tuple, torch.Tensor] | None = None

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def stft(self, wave: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, 1, T]`` (``T`` a multiple of ``hop_length``) -> complex ``Tensor[B, bins, T / stft_hop]``."""
        return self.stft_frames(wave).transpose(1, 2)

    def stft_frames(self, wave: torch.Tensor) -> torch.Tensor:
        """:meth:`stft` frame-major: complex ``Tensor[B, T / stft_hop, bins]`` (bins contiguous, no copy)."""
        flat = wave.reshape(-1, wave.shape[-1])
        spec = torch.stft(flat, self.n_fft, self.stft_hop, window=self.window.to(flat.dtype), center=True,
                          pad_mode="constant", return_complex=True)
        return spec.transpose(1, 2)[:, :-1]  # T / stft_hop frames, the last one (centred past the end) dropped

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """complex ``Tensor[B, bins, N]`` -> ``Tensor[B, 1, length]`` (``length <= N * stft_hop``).

        Overlap-add normalised by the windows actually present (as Vocos' "same"-padded ISTFT): exact at the
        ends too, where ``torch.istft`` would need the frame centred past the end that analysis dropped.
        """
        return self.istft_frames(spec.transpose(1, 2), length)

    def istft_frames(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """:meth:`istft` of a frame-major complex ``Tensor[B, N, bins]``."""
        frames = spec.shape[1]
        window = self.window.to(spec.real.dtype)
        pieces = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * window  # [B, N, n_fft]
        folded = self._overlap_add(pieces)  # [B, (N + pieces - 1) * stft_hop]
        start = self.n_fft // 2  # the first frame is centred on sample 0
        envelope = self._envelope(frames, window)[start:start + length]
        return (folded[:, start:start + length] / envelope)[:, None]

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, N, n_fft]`` (or broadcastable to it) -> ``Tensor[B, (N + pieces - 1) * stft_hop]``: frame
        ``n`` added at sample ``n * stft_hop``, as ``pieces`` shifted adds of hop-sized blocks (no ``col2im``)."""
        batch, count, size = frames.shape
        hop, pieces = self.stft_hop, self.pieces
        if pieces * hop != size:
            frames = F.pad(frames, (0, pieces * hop - size))
        blocks = frames.reshape(batch, count, pieces, hop)
        out = frames.new_zeros(batch, count + pieces - 1, hop)
        for piece in range(pieces):
            out[:, piece:piece + count] += blocks[:, :, piece]
        return out.reshape(batch, -1)

    def _envelope(self, frames: int, window: torch.Tensor) -> torch.Tensor:
        """Overlap-added squared windows of ``frames`` frames (clamped away from 0), cached for the last size."""
        key = (frames, window.dtype, window.device)
        cached = self._envelope_cache  # read once: another thread (two streams, one model) may replace it
        if cached is None or cached[0] != key:
            squared = window.square().expand(1, frames, -1)
            cached = self._envelope_cache = (key, self._overlap_add(squared)[0].clamp_min(1e-8))
        return cached[1]


def phase_locked_init(magnitude: torch.Tensor, n_fft: int, stft_hop: int, peak_range_db: float = 70.0) -> torch.Tensor:
    """A phase for ``magnitude`` from its own shape (no iteration).

    Args:
        magnitude: ``Tensor[B, bins, N]`` non-negative STFT magnitudes (Hann window, hop ``stft_hop``).

    Returns:
        ``Tensor[B, bins, N]`` phases (radians).
    """
    return _phase_locked_init_frames(magnitude.transpose(1, 2), n_fft, stft_hop, peak_range_db).transpose(1, 2)


def _phase_locked_init_frames(magnitude: torch.Tensor, n_fft: int, stft_hop: int,
                              peak_range_db: float = 70.0) -> torch.Tensor:
    """:func:`phase_locked_init` frame-major: ``Tensor[B, N, bins]`` -> ``Tensor[B, N, bins]``."""
    log_mag = torch.log(magnitude.clamp_min(1e-7))
    bins = magnitude.shape[-1]
    left, centre, right = log_mag[..., :-2], log_mag[..., 1:-1], log_mag[..., 2:]
    floor = log_mag.amax(dim=-1, keepdim=True) - peak_range_db / 20.0 * math.log(10.0)
    is_peak = torch.zeros_like(log_mag, dtype=torch.bool)
    is_peak[..., 1:-1] = (centre > left) & (centre >= right) & (centre > floor)
    # parabolic interpolation of the log-magnitude: the peak's fractional bin
    curvature = left - 2 * centre + right
    offset = torch.zeros_like(log_mag)
    safe = curvature.abs() > 1e-9
    offset[..., 1:-1] = torch.where(safe, 0.5 * (left - right) / torch.where(safe, curvature, torch.ones_like(curvature)),
                                    torch.zeros_like(curvature)).clamp(-0.5, 0.5)
    bin_index = torch.arange(bins, device=magnitude.device, dtype=log_mag.dtype)
    # nearest peak of every bin: last peak at or below and next peak at or above, whichever is closer
    big = float(bins * 4)
    below = torch.cummax(torch.where(is_peak, bin_index, -big), dim=-1).values
    above = torch.where(is_peak, bin_index, big).flip(-1).cummin(dim=-1).values.flip(-1)
    nearest = torch.where((bin_index - below) <= (above - bin_index), below, above)
    nearest = torch.where(nearest.abs() >= big, bin_index, nearest).long().clamp_(0, bins - 1)
    frequency = torch.gather(bin_index + offset, -1, nearest)  # fractional bin of the governing peak
    advance = 2 * math.pi * frequency * stft_hop / n_fft
    # integrated in float64 and wrapped: a float32 running sum reaches ~1e5 rad over 10 s, where its resolution
    # (~0.01 rad) is already an audible phase error
    accumulated = torch.remainder(torch.cumsum(advance.double(), dim=1), 2 * math.pi).to(advance.dtype)  # over frames
    # Hann main lobe: adjacent bins alternate sign relative to the peak (phase referenced to the frame start)
    return torch.gather(accumulated, -1, nearest) + math.pi * (bin_index - nearest.to(bin_index.dtype))


def reconstruct_phase(magnitude: torch.Tensor, front_end: SpectralFrontEnd, iterations: int = 8,
                      momentum: float = 0.99, prefix_phase: torch.Tensor | None = None,
                      initial_phase: torch.Tensor | None = None) -> torch.Tensor:
    """Wave from a magnitude spectrogram: phase-locked init, then ``iterations`` of fast Griffin-Lim.

    Args:
        magnitude: ``Tensor[B, bins, N]`` STFT magnitudes on ``front_end``'s grid (a transposed view of a
            frame-major ``[B, N, bins]`` tensor, as the codec's head writes it, costs no copy).
        prefix_phase: frame-major ``Tensor[B, P, bins]``, the phase of the first ``P`` frames when they continue
            audio already played (a stream's previous chunk): the start takes it, and every later frame's
            phase-locked phase is shifted per bin to continue from its last frame (phase continuity at seams).

    Returns:
        ``Tensor[B, 1, N * stft_hop]``.
    """
    magnitude = magnitude.transpose(1, 2).contiguous()  # frame-major [B, N, bins]
    length = magnitude.shape[1] * front_end.stft_hop
    phase = (_phase_locked_init_frames(magnitude, front_end.n_fft, front_end.stft_hop) if initial_phase is None
             else initial_phase)
    if prefix_phase is not None and prefix_phase.shape[1] > 0:
        known = min(prefix_phase.shape[1], phase.shape[1])
        shift = prefix_phase[:, known - 1] - phase[:, known - 1]  # [B, bins]
        phase = torch.cat([prefix_phase[:, :known], phase[:, known:] + shift[:, None]], dim=1)
    current = torch.polar(magnitude, phase)  # c_n: magnitude-projected estimate
    target = current  # t_n: the extrapolated point the next projection starts from
    for _ in range(iterations):
        projected = front_end.stft_frames(front_end.istft_frames(target, length))
        # keep the phase, impose the magnitude: a rescale, not exp(1j * angle) (complex exp is ~10x slower).
        # |projected| and the extrapolation on real [..., 2] views: torch's complex abs and lerp kernels are
        # scalar, the real ones vectorised (same values up to rounding)
        parts = torch.view_as_real(projected)
        real, imag = parts[..., 0], parts[..., 1]
        scale = torch.addcmul(real.square(), imag, imag).sqrt_().clamp_min_(1e-8)  # |projected|
        following = projected * torch.div(magnitude, scale, out=scale)
        # following + momentum * (following - current)
        target = torch.view_as_complex(torch.lerp(torch.view_as_real(current), torch.view_as_real(following),
                                                  1.0 + momentum))
        current = following
    return front_end.istft_frames(current, length)
