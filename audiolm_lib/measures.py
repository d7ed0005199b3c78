"""Audio measures shared by training losses, features and evaluation reports: one mel scale, one mel filterbank,
one log-mel spectrogram, one SI-SDR and one mel distance.

Every comparison takes ``(reference, estimate)`` in that order (the clean audio first, as mir_eval and museval do).

* :func:`mel_filterbank` - triangular filters; the default is librosa's (Slaney scale and area normalisation),
  used by the codec losses, the benchmark's mel distance and the speaker encoder; ``htk=True, norm=None`` gives
  the classic HTK filters the MFCC / log-mel semantic features were fitted with;
* :func:`mel_spectrogram` / :func:`log_mel` - ``Tensor[..., T]`` -> ``Tensor[..., n_mels, frames]``;
* :func:`si_sdr` - scale-invariant signal-to-distortion ratio in dB;
* :func:`mel_distance` - mean absolute log-mel difference (the codec trainer's validation number and the
  quality benchmark's are the same function).
"""
from __future__ import annotations

import math

import torch

from audiolm_lib.audio import AudioError

# Slaney mel scale (librosa's default): linear below 1 kHz, logarithmic above
_F_SP = 200.0 / 3  # Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = math.log(6.4) / 27.0
LOG_FLOOR = 1e-5  # magnitudes below this count as this in every log-mel measure


def hz_to_mel(freqs, htk: bool = False) -> torch.Tensor:
    """Hz -> mel, ``Tensor[...]`` float64: the Slaney scale, or HTK's ``2595 log10(1 + f / 700)``."""
    freqs = torch.as_tensor(freqs, dtype=torch.float64)
    if htk:
        return 2595.0 * torch.log10(1.0 + freqs / 700.0)
    log = _MIN_LOG_MEL + torch.log(freqs.clamp_min(_MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return torch.where(freqs >= _MIN_LOG_HZ, log, freqs / _F_SP)


def mel_to_hz(mels, htk: bool = False) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    mels = torch.as_tensor(mels, dtype=torch.float64)
    if htk:
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    log = _MIN_LOG_HZ * torch.exp(_LOG_STEP * (mels - _MIN_LOG_MEL))
    return torch.where(mels >= _MIN_LOG_MEL, log, mels * _F_SP)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None, *,
                   htk: bool = False, norm: str | None = "slaney") -> torch.Tensor:
    """Triangular mel filters ``Tensor[n_mels, n_fft // 2 + 1]`` float32 (``filters @ |STFT|`` = mel bands).

    Defaults match ``librosa.filters.mel``. ``norm="slaney"`` scales each filter to equal area; ``None`` keeps
    peak 1. ``htk=True`` spaces the bands on the HTK mel scale.
    """
    f_max = sample_rate / 2 if f_max is None else float(f_max)
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"mel band [{f_min}, {f_max}] Hz must lie inside [0, {sample_rate / 2}] Hz")
    if norm not in ("slaney", None):
        raise ValueError(f"norm must be 'slaney' or None, got {norm!r}")
    low, high = (float(hz_to_mel(f, htk)) for f in (f_min, f_max))
    edges = mel_to_hz(torch.linspace(low, high, n_mels + 2, dtype=torch.float64), htk)  # [n_mels + 2]
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)[None]
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    filters = torch.clamp(torch.minimum(rising, falling), min=0.0)
    if norm == "slaney":
        filters = filters * (2.0 / (upper - lower))
    return filters.float()


def stft_magnitude(wave: torch.Tensor, n_fft: int, hop_length: int | None = None) -> torch.Tensor:
    """``Tensor[..., T]`` -> ``Tensor[..., n_fft // 2 + 1, 1 + T // hop]`` magnitudes (centred, zero-padded Hann
    STFT; ``hop_length`` defaults to ``n_fft // 4``)."""
    hop_length = hop_length or n_fft // 4
    flat = wave.reshape(-1, wave.shape[-1])
    window = torch.hann_window(n_fft, periodic=True, device=wave.device, dtype=flat.dtype)
    spec = torch.stft(flat, n_fft, hop_length, window=window, center=True, pad_mode="constant",
                      return_complex=True).abs()
    return spec.reshape(*wave.shape[:-1], *spec.shape[-2:])


def mel_spectrogram(wave: torch.Tensor, sample_rate: int, n_fft: int, hop_length: int, n_mels: int,
                    power: float = 2.0, filters: torch.Tensor | None = None) -> torch.Tensor:
    """``Tensor[..., T]`` -> ``Tensor[..., n_mels, 1 + T // hop_length]``: librosa-style mel bands of
    ``|STFT| ** power`` (``filters``: a precomputed :func:`mel_filterbank`)."""
    if filters is None:
        filters = mel_filterbank(sample_rate, n_fft, n_mels)
    spec = stft_magnitude(wave.float(), n_fft, hop_length) ** power
    return filters.to(spec.device) @ spec


def log_mel(wave: torch.Tensor, sample_rate: int, n_fft: int = 1024, hop_length: int | None = None,
            n_mels: int = 80, floor: float = LOG_FLOOR, filters: torch.Tensor | None = None) -> torch.Tensor:
    """Natural-log mel magnitudes ``Tensor[..., n_mels, frames]`` (power 1, floored): what the codec losses and
    :func:`mel_distance` compare. ``n_mels`` is capped at ``n_fft // 4`` so every filter spans an FFT bin."""
    n_mels = min(n_mels, n_fft // 4)
    mel = mel_spectrogram(wave, sample_rate, n_fft, hop_length or n_fft // 4, n_mels, power=1.0, filters=filters)
    return torch.log(mel.clamp_min(floor))


def _check_pair(reference: torch.Tensor, estimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    reference, estimate = torch.as_tensor(reference), torch.as_tensor(estimate)
    if reference.shape != estimate.shape:
        raise ValueError(f"reference and estimate must have the same shape, got {tuple(reference.shape)} and "
                         f"{tuple(estimate.shape)}")
    if reference.shape[-1] == 0:
        raise AudioError("cannot compare empty waves (0 samples)")
    return reference, estimate


def si_sdr(reference: torch.Tensor, estimate: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019), per wave.

    Both are made zero-mean; the estimate is split into ``alpha * reference`` (target) plus the rest (noise)
    and SI-SDR = 10 log10(|target|^2 / |noise|^2). Rescaling the estimate leaves it unchanged.

    Args:
        reference: ``Tensor[..., T]`` clean audio.
        estimate: ``Tensor[..., T]`` reconstruction, same shape.

    Returns:
        ``Tensor[...]`` float64 dB (about 10 log10(1 / eps) for identical waves).
    """
    reference, estimate = (x.double() for x in _check_pair(reference, estimate))
    reference = reference - reference.mean(dim=-1, keepdim=True)
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    alpha = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + eps)
    target = alpha * reference
    noise = estimate - target
    return 10 * torch.log10((target.pow(2).sum(-1) + eps) / (noise.pow(2).sum(-1) + eps))


def mel_distance(reference: torch.Tensor, estimate: torch.Tensor, sample_rate: int, n_fft: int = 1024,
                 hop_length: int = 256, n_mels: int = 80, floor: float = LOG_FLOOR) -> torch.Tensor:
    """Mean absolute difference of :func:`log_mel`, per wave: ``Tensor[..., T]`` x2 -> ``Tensor[...]`` float64
    (0 for identical waves; lower is better)."""
    reference, estimate = _check_pair(reference, estimate)
    filters = mel_filterbank(sample_rate, n_fft, min(n_mels, n_fft // 4))
    ref, est = (log_mel(x.float(), sample_rate, n_fft, hop_length, n_mels, floor, filters) for x in (reference, estimate))
    return (ref - est).abs().mean(dim=(-2, -1)).double()
