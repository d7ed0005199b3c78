"""Audio I/O with clear errors: load, save, resample, downmix (soundfile + soxr, no torchaudio)."""
from __future__ import annotations

import math
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


# sample rates a file may declare: a WAV header claiming 1 Hz would make resampling to 16 kHz allocate 16000x
MIN_FILE_RATE, MAX_FILE_RATE = 1000, 384_000
MAX_DECODED_SAMPLES = 1 << 28  # 1 GB of float32 read at once (4.6 h of 16 kHz mono)


def _check_readable(path: Path) -> None:
    import stat

    if not path.exists():
        raise AudioError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioError(f"expected an audio file, got a directory: {path}")
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block the decoder forever
        raise AudioError(f"refusing audio file {path}: not a regular file (a FIFO, socket or device)")
    if info.st_size == 0:
        raise AudioError(f"audio file is empty (0 bytes): {path}")


def _check_decoded_size(info, start: int, stop: int | None, target_rate: int | None, path: Path) -> None:
    """A compressed file (FLAC of silence) can declare hours in a few kB: bound what decoding would allocate."""
    frames = max(0, min(int(info.frames), stop if stop is not None else int(info.frames)) - start)
    samples = frames * max(1, int(info.channels)) * max(1.0, (target_rate or info.samplerate) / info.samplerate)
    if samples > MAX_DECODED_SAMPLES:
        raise AudioError(f"audio file {path} would decode to {samples:,.0f} samples ({frames / info.samplerate / 3600:.1f} "
                         f"h), more than the {MAX_DECODED_SAMPLES:,} read at once; cut it into shorter files")


def _check_rate(rate: int, path: Path) -> None:
    if not MIN_FILE_RATE <= rate <= MAX_FILE_RATE:
        raise AudioError(f"audio file {path} declares a sample rate of {rate} Hz; only {MIN_FILE_RATE} to "
                         f"{MAX_FILE_RATE} Hz is accepted")


def audio_info(path: PathLike) -> tuple[int, int]:
    """``(frames, sample_rate)`` of an audio file, read from its header (the samples are not decoded)."""
    import soundfile as sf

    path = Path(path)
    _check_readable(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise AudioError(f"cannot decode audio file {path}: {exc}") from exc
    _check_rate(int(info.samplerate), path)
    return int(info.frames), int(info.samplerate)


def load_audio(
    path: PathLike,
    sample_rate: int | None = None,
    mono: bool = True,
    min_seconds: float = 0.0,
    *,
    start: int = 0,
    stop: int | None = None,
    return_rate: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, int]:
    """Read an audio file (wav/flac/ogg/...) as float32.

    A tensor does not know its rate: read at the rate you will use (``sample_rate=model.sample_rate``), or ask for
    it (``wave, rate = load_audio(path, return_rate=True)``) and pass it on (``continue_audio(wave, ...,
    sample_rate=rate)``).

    Args:
        path: file to read.
        sample_rate: resample to this rate if given (soxr, high quality).
        mono: average the channels into one.
        min_seconds: refuse files shorter than this (after resampling).
        start / stop: read only samples ``[start, stop)`` of the file, at its own rate (see :func:`audio_info`);
            the rest is never decoded, so the tail of a long file costs what the tail costs.
        return_rate: also return the rate of the returned wave.

    Returns:
        Tensor[C, T] float32 in [-1, 1] (C == 1 when ``mono``); with ``return_rate``, ``(wave, rate)``.
    """
    import soundfile as sf

    path = Path(path)
    _check_readable(path)
    if start < 0 or (stop is not None and stop < start):
        raise AudioError(f"invalid sample range [{start}, {stop}) for {path}")
    try:
        info = sf.info(str(path))
        _check_rate(int(info.samplerate), path)  # before decoding or resampling anything
        _check_decoded_size(info, start, stop, sample_rate, path)
        data, rate = sf.read(str(path), dtype="float32", always_2d=True, start=int(start),
                             stop=None if stop is None else int(stop))
    except AudioError:
        raise
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError with terse text
        raise AudioError(f"cannot decode audio file {path}: {exc}") from exc
    if data.shape[0] == 0:
        where = f" in the sample range [{start}, {stop})" if start or stop is not None else ""
        raise AudioError(f"audio file has no samples{where}: {path}")
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
    wave = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    return (wave, int(rate)) if return_rate else wave


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


def band_limit(wave: torch.Tensor, sample_rate: int, band_hz: float) -> torch.Tensor:
    """``wave`` (``Tensor[..., T]``) with nothing above ``band_hz``: resampled to ``2 * band_hz`` and back (soxr's
    anti-aliasing filter, as a telephone channel does it), the same length and rate."""
    narrow = _narrow_rate(sample_rate, band_hz)
    return _same_length(resample(resample(wave, sample_rate, narrow), narrow, sample_rate), wave)


def _narrow_rate(sample_rate: int, band_hz: float) -> int:
    """The rate whose Nyquist frequency is ``band_hz`` (checked to lie inside the wave's band)."""
    if not (math.isfinite(band_hz) and 0 < band_hz < sample_rate / 2):
        raise ValueError(f"the band must be between 0 and half the sample rate ({sample_rate / 2:g} Hz), got {band_hz}")
    return max(1, int(round(2 * band_hz)))


def _same_length(out: torch.Tensor, wave: torch.Tensor) -> torch.Tensor:
    """``out`` resampled back from ``wave``, cut or zero-padded to its length (a resampler may come back a sample
    short or long), in its dtype and on its device."""
    length = wave.shape[-1]
    if out.shape[-1] < length:
        out = torch.nn.functional.pad(out, (0, length - out.shape[-1]))
    return out[..., :length].to(dtype=wave.dtype, device=wave.device)


def fold_band(wave: torch.Tensor, sample_rate: int, band_hz: float) -> torch.Tensor:
    """``wave`` (``Tensor[..., T]``) through a 2x-band polyphase channel: decimated to ``2 * band_hz`` and
    interpolated back with scipy's ``resample_poly`` (Kaiser window, beta 5), whose gentle filter leaves attenuated
    mirror images of the band below ``band_hz`` in the band above (spectral folding, the oldest bandwidth extension
    of telephone speech). Same length and rate. Why not :func:`band_limit`: issue 20's rules 15-16 (an upper band that
    holds harmonics keeps the codec and the acoustic generator voiced; an empty one does not)."""
    from math import gcd

    from scipy.signal import resample_poly

    narrow = _narrow_rate(sample_rate, band_hz)
    common = gcd(narrow, int(sample_rate))
    up, down = narrow // common, int(sample_rate) // common
    array = wave.detach().cpu().numpy().astype(np.float64)
    out = resample_poly(resample_poly(array, up, down, axis=-1), down, up, axis=-1)
    return _same_length(torch.from_numpy(np.ascontiguousarray(out)), wave)


BAND_MODES = ("cut", "fold", "extend")
# "extend" takes a wave for narrowband when less than this share of its magnitude spectrum lies above 1.05x the band
# (fixed before issue 20's rule 17: the share its probes used to tell 8 kHz recordings, 0.0006-0.005 against >= 0.05)
NARROWBAND_SHARE = 0.01


def upper_band_share(wave: torch.Tensor, sample_rate: int, band_hz: float) -> torch.Tensor:
    """``Tensor[...]``: the share of each wave's (``Tensor[..., T]``) magnitude spectrum above ``1.05 * band_hz``."""
    spectrum = torch.fft.rfft(wave.float(), dim=-1).abs()
    above = torch.fft.rfftfreq(wave.shape[-1], 1.0 / sample_rate, device=wave.device) > 1.05 * band_hz
    return spectrum[..., above].sum(-1) / spectrum.sum(-1).clamp_min(1e-12)


def band_channel(wave: torch.Tensor, sample_rate: int, band_hz: float, mode: str = "cut") -> torch.Tensor:
    """``wave`` (``Tensor[..., T]``) through one of :data:`BAND_MODES`: ``"cut"`` :func:`band_limit`; ``"fold"``
    :func:`fold_band`; ``"extend"`` :func:`fold_band` for the waves that are narrowband already (less than
    :data:`NARROWBAND_SHARE` of their magnitude above the band: a telephone recording), the others as they are."""
    if mode == "cut":
        return band_limit(wave, sample_rate, band_hz)
    if mode == "fold":
        return fold_band(wave, sample_rate, band_hz)
    if mode != "extend":
        raise ValueError(f"band mode must be one of {', '.join(BAND_MODES)}, got {mode!r}")
    narrow = upper_band_share(wave, sample_rate, band_hz) < NARROWBAND_SHARE
    if not bool(narrow.any()):
        return wave
    return torch.where(narrow[..., None], fold_band(wave, sample_rate, band_hz), wave)


def save_audio(path: PathLike, wave: torch.Tensor | np.ndarray, sample_rate: int) -> Path:
    """Write ``wave`` (Tensor[C, T], Tensor[T] or Tensor[1, C, T]) as 16-bit PCM .wav / .flac, or .ogg Vorbis.

    Samples are clipped to [-1, 1]; the parent folder is created. The file is written atomically (temp
    file + rename): a reader sees the old file or the whole new one, even on a full disk or ``kill -9``.
    """
    from audiolm_lib.atomic import atomic_write
    from audiolm_lib.outputs import audio_write_format

    path = Path(path)
    file_format, subtype = audio_write_format(path)  # before any work: unknown extensions fail here
    if sample_rate is None or not float(sample_rate).is_integer() or int(sample_rate) <= 0:
        raise AudioError(f"sample_rate must be a positive integer, got {sample_rate}")
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
    frames = np.ascontiguousarray(np.clip(array.T, -1.0, 1.0))
    return atomic_write(path, lambda tmp: _write_sound(tmp, frames, int(sample_rate), file_format, subtype))


def _write_sound(tmp: str, frames: np.ndarray, sample_rate: int, file_format: str, subtype: str) -> None:
    import soundfile as sf

    sf.write(tmp, frames, sample_rate, format=file_format, subtype=subtype)


def prepare_wave(wave: torch.Tensor, sample_rate: int, target_rate: int, min_samples: int = 1) -> torch.Tensor:
    """Bring an in-memory wave to ``Tensor[B, 1, T]`` at ``target_rate`` (downmix, resample, checks).

    Accepts ``Tensor[T]``, ``Tensor[C, T]`` (channels are averaged) or ``Tensor[B, C, T]``.
    """
    wave = as_float_wave(wave)
    if wave.ndim == 1:
        wave = wave[None, None]
    elif wave.ndim == 2:
        wave = wave.mean(dim=0, keepdim=True)[None]
    elif wave.ndim == 3:
        wave = wave.mean(dim=1, keepdim=True)
    else:
        raise AudioError(f"expected a wave of shape [T], [C, T] or [B, C, T], got {tuple(wave.shape)}")
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


# integer PCM: divide by 2**(bits - 1) (uint8 is offset binary), as soundfile reads such files
_PCM_SCALE = {torch.int8: (0.0, 128.0), torch.uint8: (128.0, 128.0), torch.int16: (0.0, 32768.0),
              torch.int32: (0.0, 2147483648.0)}


def as_float_wave(wave) -> torch.Tensor:
    """A float32 Tensor of ``wave``: float stays as is, int8/uint8/int16/int32 PCM is scaled to [-1, 1).

    Other types (int64 ids, bool, complex, objects) raise :class:`AudioError` saying what was given.
    """
    if not isinstance(wave, torch.Tensor):
        try:
            array = np.asarray(wave)
            wave = torch.from_numpy(array) if array.dtype.kind in "iuf" else None
        except (TypeError, ValueError):
            wave = None
        if wave is None:
            raise AudioError("expected a wave as a float Tensor or array, or int16/int32 PCM")
    if wave.is_floating_point():
        return wave.float()
    if wave.dtype in _PCM_SCALE:
        offset, scale = _PCM_SCALE[wave.dtype]
        return (wave.float() - offset) / scale
    raise AudioError(f"cannot use a {wave.dtype} tensor as audio: give float samples in [-1, 1] or "
                     "int8/uint8/int16/int32 PCM")
