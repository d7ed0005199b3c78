"""Mel spectrograms in torch that match librosa's defaults (Slaney mel scale and area normalisation).

Matching librosa matters for the speaker encoder: its weights were trained on ``librosa.feature.melspectrogram``.
"""
from __future__ import annotations

import math

import torch

_F_SP = 200.0 / 3  # Hz per mel below 1 kHz on the Slaney scale
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(freqs: torch.Tensor) -> torch.Tensor:
    """Slaney mel scale: linear below 1 kHz, logarithmic above. ``Tensor[...]`` Hz -> ``Tensor[...]`` mel."""
    freqs = torch.as_tensor(freqs, dtype=torch.float64)
    linear = freqs / _F_SP
    log = _MIN_LOG_MEL + torch.log(freqs.clamp_min(_MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return torch.where(freqs >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mels: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    mels = torch.as_tensor(mels, dtype=torch.float64)
    linear = mels * _F_SP
    log = _MIN_LOG_HZ * torch.exp(_LOG_STEP * (mels - _MIN_LOG_MEL))
    return torch.where(mels >= _MIN_LOG_MEL, log, linear)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> torch.Tensor:
    """Triangular Slaney-normalised filters, as ``librosa.filters.mel``: ``Tensor[n_mels, n_fft // 2 + 1]`` float32."""
    fmax = sample_rate / 2 if fmax is None else fmax
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"mel band [{fmin}, {fmax}] Hz must lie inside [0, {sample_rate / 2}] Hz")
    fft_freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    mel_points = torch.linspace(hz_to_mel(torch.tensor(fmin)).item(), hz_to_mel(torch.tensor(fmax)).item(), n_mels + 2)
    band_edges = mel_to_hz(mel_points)  # [n_mels + 2]
    widths = band_edges.diff()  # [n_mels + 1]
    ramps = band_edges[:, None] - fft_freqs[None, :]  # [n_mels + 2, n_freqs]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    weights *= (2.0 / (band_edges[2:] - band_edges[:-2]))[:, None]  # equal area per filter
    return weights.float()


def mel_spectrogram(
    wave: torch.Tensor,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    power: float = 2.0,
) -> torch.Tensor:
    """``Tensor[..., T]`` -> ``Tensor[..., n_mels, 1 + T // hop_length]`` (centred, zero-padded Hann STFT)."""
    lead = wave.shape[:-1]
    flat = wave.reshape(-1, wave.shape[-1]).float()
    spec = torch.stft(
        flat,
        n_fft=n_fft,
        hop_length=hop_length,
        window=torch.hann_window(n_fft, periodic=True, device=wave.device),
        center=True,
        pad_mode="constant",
        return_complex=True,
    ).abs() ** power  # [N, n_freqs, frames]
    mels = mel_filterbank(sample_rate, n_fft, n_mels).to(wave.device) @ spec
    return mels.reshape(*lead, n_mels, mels.shape[-1])
