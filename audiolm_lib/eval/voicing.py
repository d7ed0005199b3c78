"""Voicing: is speech voiced (a pitch, the vocal folds vibrating) or whispered / noise, and does its pitch follow a
reference? From librosa's pYIN (probabilistic YIN, Mauch & Dixon 2014) at 16 kHz, ``fmin`` 60 Hz, ``fmax`` 400 Hz,
1024-sample frames (64 ms) every 256 samples (16 ms).

Measures, each on **active** frames only, so pauses and silence do not count:

- active frame: its RMS lies within :data:`ACTIVE_RANGE_DB` (35 dB) of the clip's loudest frame and above
  :data:`SILENCE_DBFS` (-60 dBFS);
- ``voiced_share``: voiced active frames / active frames (about 0.9 for read speech, 0 for whisper or noise);
- against a reference (the same utterance: an original beside its codec re-synthesis), frames aligned from the start
  and cut to the shorter track:
  - ``voicing_decision_error``: share of the reference's active frames whose voiced flags differ;
  - ``f0_error_cents``: the **median** absolute ``1200 log2(f0 / f0_ref)`` over the frames voiced in both
    (``None`` where there is none); ``voiced_in_both`` counts them.

A generated continuation is not time-aligned with the real one, so its decision error and F0 error against the real
continuation say how different the two are, not how well one follows the other; its ``voiced_share`` stands alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from audiolm_lib.audio import prepare_wave

SAMPLE_RATE = 16000
FMIN, FMAX = 60.0, 400.0
FRAME_LENGTH, HOP_LENGTH = 1024, 256
ACTIVE_RANGE_DB = 35.0
SILENCE_DBFS = -60.0


@dataclass(frozen=True)
class VoicingTrack:
    """pYIN's frame-wise decisions on one clip (``frames`` at 62.5 per second).

    Attributes:
        f0: ``ndarray[frames]`` fundamental frequency in Hz, NaN where unvoiced.
        voiced: ``ndarray[frames]`` bool, pYIN's voiced flag.
        active: ``ndarray[frames]`` bool, frames loud enough to count (see the module doc).
    """

    f0: np.ndarray
    voiced: np.ndarray
    active: np.ndarray

    @property
    def voiced_share(self) -> float | None:
        """Voiced active frames / active frames (``None`` for a clip without active frames)."""
        active = int(self.active.sum())
        return float((self.voiced & self.active).sum() / active) if active else None


def _librosa():
    try:
        import librosa
    except ImportError as exc:
        raise ImportError(f"voicing measures need librosa: `pip install -e .[eval]` ({exc})") from exc
    return librosa


def voicing_track(wave, sample_rate: int) -> VoicingTrack:
    """``Tensor[T]`` / ``Tensor[C, T]`` / ndarray at ``sample_rate`` -> its :class:`VoicingTrack` (at 16 kHz)."""
    librosa = _librosa()
    wave = prepare_wave(torch.as_tensor(np.asarray(wave, dtype=np.float32)), sample_rate, SAMPLE_RATE)
    if wave.shape[0] != 1:
        raise ValueError(f"expected one wave ([T] or [C, T]), got a batch of {wave.shape[0]}")
    audio = wave[0, 0].numpy().astype(np.float32)
    if len(audio) < FRAME_LENGTH:
        audio = np.pad(audio, (0, FRAME_LENGTH - len(audio)))
    rms = librosa.feature.rms(y=audio, frame_length=FRAME_LENGTH, hop_length=HOP_LENGTH)[0]
    level = 20 * np.log10(np.maximum(rms, 1e-10))
    active = (level > level.max() - ACTIVE_RANGE_DB) & (level > SILENCE_DBFS)
    if not active.any():  # silence: pYIN has nothing to say
        frames = len(rms)
        return VoicingTrack(np.full(frames, np.nan), np.zeros(frames, dtype=bool), active)
    f0, voiced, _ = librosa.pyin(audio, fmin=FMIN, fmax=FMAX, sr=SAMPLE_RATE, frame_length=FRAME_LENGTH,
                                 hop_length=HOP_LENGTH)
    frames = min(len(f0), len(active))
    return VoicingTrack(f0[:frames], np.asarray(voiced[:frames], dtype=bool), active[:frames])


def compare_voicing(reference: VoicingTrack, estimate: VoicingTrack) -> dict:
    """Voicing of ``estimate`` against ``reference`` on aligned frames (cut to the shorter track).

    Returns:
        ``{"voicing_decision_error", "f0_error_cents" (median absolute), "voiced_in_both"}``; the first is ``None``
        where the reference has no active frame, the second where no frame is voiced in both.
    """
    frames = min(len(reference.voiced), len(estimate.voiced))
    active = reference.active[:frames]
    ref_voiced, est_voiced = reference.voiced[:frames], estimate.voiced[:frames]
    decision = float((ref_voiced != est_voiced)[active].mean()) if active.any() else None
    both = ref_voiced & est_voiced & np.isfinite(reference.f0[:frames]) & np.isfinite(estimate.f0[:frames])
    cents = np.abs(1200 * np.log2(estimate.f0[:frames][both] / reference.f0[:frames][both]))
    return {"voicing_decision_error": decision,
            "f0_error_cents": float(np.median(cents)) if len(cents) else None,
            "voiced_in_both": int(both.sum())}


def voicing_report(wave, sample_rate: int, reference=None) -> dict:
    """Voicing of one clip, and against ``reference`` when given.

    Args:
        wave: ``Tensor[T]`` / ``Tensor[C, T]`` at ``sample_rate``, or its :class:`VoicingTrack`.
        sample_rate: rate of ``wave`` and of a ``reference`` wave.
        reference: the same utterance as a wave at ``sample_rate`` or a :class:`VoicingTrack` (reuse one
            track when one reference is compared with several waves).

    Returns:
        ``{"voiced_share"}``; with a reference also ``"voiced_share_reference"`` and :func:`compare_voicing`'s keys.
    """
    track = wave if isinstance(wave, VoicingTrack) else voicing_track(wave, sample_rate)
    report = {"voiced_share": track.voiced_share}
    if reference is not None:
        ref_track = reference if isinstance(reference, VoicingTrack) else voicing_track(reference, sample_rate)
        report["voiced_share_reference"] = ref_track.voiced_share
        report.update(compare_voicing(ref_track, track))
    return report
