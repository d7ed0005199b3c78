"""Audio I/O with clear errors: load, save, resample, downmix (soundfile + soxr, no torchaudio)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np
import torch

PathLike = Union[str, os.PathLike]


class AudioError(ValueError):
    """Raised for audio that cannot be used: missing, empty, corrupt, non-finite or too short."""


def _check_finite(wave: np.ndarray, what: str) -> None:
    if not np.isfinite(wave).all():
        raise AudioError(f"{what} contains NaN or Inf samples")


def load_audio(
    path: PathLike,
    sample_rate: int | None = None,
    mono: bool = True,
    min_seconds: float = 0.0,
) -> torch.Tensor:
    """Read an audio file (wav/flac/ogg/...) as float32.

    Args:
        path: file to read.
        sample_rate: resample to this rate if given (soxr, high quality).
        mono: average the channels into one.
        min_seconds: refuse files shorter than this (after resampling).

    Returns:
        Tensor[C, T] float32 in [-1, 1] (C == 1 when ``mono``).
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioError(f"expected an audio file, got a directory: {path}")
    if path.stat().st_size == 0:
        raise AudioError(f"audio file is empty (0 bytes): {path}")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError with terse text
        raise AudioError(f"cannot decode audio file {path}: {exc}") from exc
    if data.shape[0] == 0:
        raise AudioError(f"audio file has no samples: {path}")
    _check_finite(data, f"audio file {path}")
    wave = data.T  # [C, T]
    if mono and wave.shape[0] > 1:
        wave = wave.mean(axis=0, keepdims=True)
    if sample_rate is not None and rate != sample_rate:
        wave = resample(wave, rate, sample_rate)
        rate = sample_rate
    seconds = wave.shape[-1] / rate
    if seconds < min_seconds:
        raise AudioError(f"audio file {path} is {seconds:.3f} s long; at least {min_seconds:.3f} s is needed")
    return torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))


def resample(wave, orig_rate: int, new_rate: int):
    """Resample ``wave`` (numpy or Tensor, [..., T]) from ``orig_rate`` to ``new_rate`` with soxr.

    Returns the same type it was given.
    """
    import soxr

    if orig_rate <= 0 or new_rate <= 0:
        raise AudioError(f"sample rates must be positive, got {orig_rate} -> {new_rate}")
    if orig_rate == new_rate:
        return wave
    is_tensor = isinstance(wave, torch.Tensor)
    array = wave.detach().cpu().numpy() if is_tensor else np.asarray(wave)
    lead = array.shape[:-1]
    flat = array.reshape(-1, array.shape[-1]).astype(np.float32)
    # soxr wants [T, C]
    out = soxr.resample(flat.T, orig_rate, new_rate, quality="HQ").T
    out = np.ascontiguousarray(out.reshape(*lead, out.shape[-1]), dtype=np.float32)
    if is_tensor:
        return torch.from_numpy(out).to(wave.device)
    return out


def save_audio(path: PathLike, wave: torch.Tensor | np.ndarray, sample_rate: int) -> Path:
    """Write ``wave`` (Tensor[C, T], Tensor[T] or Tensor[1, C, T]) as 16-bit PCM (.wav) or FLAC.

    Samples are clipped to [-1, 1]; the parent folder is created.
    """
    import soundfile as sf

    path = Path(path)
    array = wave.detach().cpu().float().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave, np.float32)
    if array.ndim == 3:
        if array.shape[0] != 1:
            raise AudioError(f"save_audio takes one wave at a time, got a batch of {array.shape[0]}")
        array = array[0]
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[-1] == 0:
        raise AudioError(f"cannot save a wave of shape {tuple(array.shape)}")
    _check_finite(array, "wave to save")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(array.T, -1.0, 1.0), sample_rate, subtype="PCM_16" if path.suffix.lower() == ".wav" else None)
    return path


def prepare_wave(wave: torch.Tensor, sample_rate: int, target_rate: int, min_samples: int = 1) -> torch.Tensor:
    """Bring an in-memory wave to ``Tensor[B, 1, T]`` at ``target_rate`` (downmix, resample, checks).

    Accepts ``Tensor[T]``, ``Tensor[C, T]`` (channels are averaged) or ``Tensor[B, C, T]``.
    """
    if not isinstance(wave, torch.Tensor):
        wave = torch.as_tensor(np.asarray(wave), dtype=torch.float32)
    if wave.ndim == 1:
        wave = wave[None, None]
    elif wave.ndim == 2:
        wave = wave.mean(dim=0, keepdim=True)[None]
    elif wave.ndim == 3:
        wave = wave.mean(dim=1, keepdim=True)
    else:
        raise AudioError(f"expected a wave of shape [T], [C, T] or [B, C, T], got {tuple(wave.shape)}")
    wave = wave.float()
    if wave.shape[-1] == 0:
        raise AudioError("wave is empty (0 samples)")
    if not torch.isfinite(wave).all():
        raise AudioError("wave contains NaN or Inf samples")
    if sample_rate != target_rate:
        wave = resample(wave, sample_rate, target_rate)
    if wave.shape[-1] < min_samples:
        raise AudioError(
            f"wave has {wave.shape[-1]} samples at {target_rate} Hz; at least {min_samples} are needed"
        )
    return wave
