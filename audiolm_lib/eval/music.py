"""Is it still the instrument and the piece? Music measures of a continuation, each to be read next to the same
measure on the real continuation.

Spectral work is librosa's: harmonic/percussive separation (Fitzgerald 2010), spectral flatness, constant-Q
chroma and onset detection. The summaries on top (an energy ratio, a cosine, a top-3 share, a rate) are a few
lines each and written here because no package exposes them as one number per clip:

- ``harmonic_ratio``: share of the spectrogram energy in librosa's harmonic component (HPSS): near 1 for
  sustained pitched notes, about 0.5 for noise, low for clicks.
- ``spectral_flatness``: mean Wiener entropy of the frames: near 0 for a few clear partials, towards 1 for noise.
- ``chroma_top3_ratio``: mean over frames of the energy share of the three strongest pitch classes (a triad
  or a melody note with its harmony: high; noise spreads evenly, 3/12 = 0.25).
- ``onset_rate``: detected note onsets per second.
- ``chroma_similarity``: cosine of the time-averaged chroma of two clips: same key and harmony near 1.
- ``chroma_agreement``: mean over time of the cosine of two time-aligned clips' chroma, frame by frame: the same
  notes at the same times near 1 (a continuation that holds the prompt's chord while the real one moves on: low).
"""
from __future__ import annotations

import numpy as np
import torch

from audiolm_lib.audio import prepare_wave

MUSIC_RATE = 16000
_N_FFT, _HOP = 2048, 512
_MIN_SECONDS = 0.25


def _librosa():
    try:
        import librosa
    except ImportError as exc:
        raise ImportError(f"music measures need librosa: `pip install -e .[eval]` ({exc})") from exc
    return librosa


def _mono(wave, sample_rate: int) -> np.ndarray:
    """``Tensor[T]`` / ``Tensor[C, T]`` / ndarray -> float32 ``ndarray[T']`` at 16 kHz."""
    wave = prepare_wave(torch.as_tensor(np.asarray(wave, dtype=np.float32)), sample_rate, MUSIC_RATE,
                        min_samples=int(_MIN_SECONDS * MUSIC_RATE))
    if wave.shape[0] != 1:
        raise ValueError(f"expected one wave ([T] or [C, T]), got a batch of {wave.shape[0]}")
    return wave[0, 0].numpy().astype(np.float32)


def chroma(wave, sample_rate: int) -> np.ndarray:
    """Constant-Q chroma energies, unnormalised: ``Tensor[T]`` -> ``ndarray[12, frames]`` (C, C#, ..., B)."""
    librosa = _librosa()
    audio = _mono(wave, sample_rate)
    return librosa.feature.chroma_cqt(y=audio, sr=MUSIC_RATE, hop_length=_HOP, norm=None, tuning=0.0)


def chroma_similarity(wave_a, wave_b, sample_rate: int) -> float | None:
    """Cosine of the mean chroma of two clips (``None`` if either has no pitched energy)."""
    a, b = chroma(wave_a, sample_rate).mean(axis=1), chroma(wave_b, sample_rate).mean(axis=1)
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm > 0 else None


def chroma_agreement(wave_a, wave_b, sample_rate: int) -> float | None:
    """Mean over the frames both clips sound in of the cosine of their chroma (``None`` if no frame does); the
    clips are compared from their starts, over the shorter one's length."""
    a, b = chroma(wave_a, sample_rate), chroma(wave_b, sample_rate)
    frames = min(a.shape[1], b.shape[1])
    a, b = a[:, :frames], b[:, :frames]
    norms = np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0)
    sounding = norms > 1e-6 * norms.max() if frames and norms.max() > 0 else np.zeros(frames, dtype=bool)
    if not sounding.any():
        return None
    return float(((a * b).sum(axis=0)[sounding] / norms[sounding]).mean())


def music_measures(wave, sample_rate: int) -> dict:
    """One clip -> ``{"harmonic_ratio", "spectral_flatness", "chroma_top3_ratio", "onset_rate"}`` (see module doc).

    A silent clip gives ``None`` for the ratios and 0 onsets per second.
    """
    librosa = _librosa()
    audio = _mono(wave, sample_rate)
    seconds = len(audio) / MUSIC_RATE
    if not np.any(audio):
        return {"harmonic_ratio": None, "spectral_flatness": None, "chroma_top3_ratio": None, "onset_rate": 0.0}
    spectrum = np.abs(librosa.stft(audio, n_fft=_N_FFT, hop_length=_HOP))
    harmonic, percussive = librosa.decompose.hpss(spectrum)
    harmonic_energy, percussive_energy = float((harmonic**2).sum()), float((percussive**2).sum())
    flatness = librosa.feature.spectral_flatness(S=spectrum)[0]
    energies = librosa.feature.chroma_cqt(y=audio, sr=MUSIC_RATE, hop_length=_HOP, norm=None, tuning=0.0)  # [12, frames]
    totals = energies.sum(axis=0)
    voiced = totals > 1e-3 * totals.max() if totals.max() > 0 else np.zeros_like(totals, dtype=bool)
    top3 = np.sort(energies[:, voiced], axis=0)[-3:].sum(axis=0) / totals[voiced] if voiced.any() else None
    onsets = librosa.onset.onset_detect(y=audio, sr=MUSIC_RATE, hop_length=_HOP, units="time")
    return {
        "harmonic_ratio": harmonic_energy / (harmonic_energy + percussive_energy),
        "spectral_flatness": float(flatness.mean()),
        "chroma_top3_ratio": float(top3.mean()) if top3 is not None else None,
        "onset_rate": len(onsets) / seconds,
    }


def music_continuation_report(prompt, continuation, real_continuation, sample_rate: int,
                              resynthesis=None) -> dict:
    """Measures of a generated continuation next to the real one (and optionally the codec's re-synthesis of it).

    Args:
        prompt: ``Tensor[T]`` the prompt that was continued.
        continuation: ``Tensor[T']`` generated audio after the prompt.
        real_continuation: ``Tensor[T'']`` what the piece really does after the prompt.
        sample_rate: rate of all waves.
        resynthesis: ``Tensor[T'']`` the real continuation through the codec (the ceiling the stages can reach).

    Returns:
        ``{measure: {"generated", "real"[, "resynthesis"]}}`` for every :func:`music_measures` key and for
        ``chroma_similarity_to_prompt``.
    """
    waves = {"generated": continuation, "real": real_continuation}
    if resynthesis is not None:
        waves["resynthesis"] = resynthesis
    measured = {name: music_measures(wave, sample_rate) for name, wave in waves.items()}
    report = {key: {name: measured[name][key] for name in waves} for key in measured["generated"]}
    report["chroma_similarity_to_prompt"] = {
        name: chroma_similarity(prompt, wave, sample_rate) for name, wave in waves.items()
    }
    return report
