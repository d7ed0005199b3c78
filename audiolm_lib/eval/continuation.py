"""Judge a generated continuation: is it intelligible (WER/CER), is it voiced speech (not whisper or babble) and
does it keep the prompt's voice?

Speaker similarity alone is hard to read, so it comes with two baselines on the same encoder:
the same speaker (the prompt against another recording of its speaker when given, else the prompt's
first half against its second half) and, when given, a different speaker (the prompt against another
speaker's recording). A good continuation scores near the first. Similarity grows with duration
(longer clips average more 1.6 s partials), so compare clips of similar lengths.

Voicing (:mod:`audiolm_lib.eval.voicing`): the pYIN voiced share of the continuation's active frames beside the
prompt's; given the real continuation, also its voiced share and the voicing decision error and F0 error of the
continuation against it (frame by frame: these say how much the two differ, as a generated continuation is not
time-aligned with the real one).
"""
from __future__ import annotations

import torch

from audiolm_lib.audio import prepare_wave
from audiolm_lib.eval.speaker import SAMPLE_RATE, speaker_similarity


def continuation_report(
    prompt_wave: torch.Tensor,
    continuation_wave: torch.Tensor,
    sample_rate: int,
    transcript: str | None = None,
    reference_other_speaker: torch.Tensor | None = None,
    other_sample_rate: int | None = None,
    reference_same_speaker: torch.Tensor | None = None,
    transcriber=None,
    real_continuation=None,
    voicing: bool = True,
) -> dict:
    """Measure a continuation against its prompt.

    Args:
        prompt_wave: ``Tensor[T]`` / ``Tensor[C, T]`` the prompt that was continued.
        continuation_wave: ``Tensor[T']`` / ``Tensor[C, T']`` the generated audio (without the prompt).
        sample_rate: rate of both waves.
        transcript: what the continuation should say; enables ``wer``/``cer`` (whisper ASR).
        reference_other_speaker: a recording of a different speaker, for the different-speaker baseline.
        other_sample_rate: rate of both reference recordings (default ``sample_rate``).
        reference_same_speaker: another recording of the prompt's speaker, for the same-speaker baseline
            (default: the prompt's halves against each other).
        transcriber: a :class:`~audiolm_lib.eval.asr.WhisperTranscriber` to reuse (default: a new one).
        real_continuation: what really followed the prompt (``Tensor[T'']`` at ``sample_rate``, or its
            :class:`~audiolm_lib.eval.voicing.VoicingTrack`), for the voicing comparison.
        voicing: measure voicing (pYIN).

    Returns:
        ``speaker_similarity`` (prompt vs continuation cosine), ``same_speaker_baseline``,
        ``different_speaker_baseline`` (``None`` without ``reference_other_speaker``), ``prompt_seconds``,
        ``continuation_seconds``; with ``voicing`` ``voiced_share`` (continuation) and ``voiced_share_prompt``,
        with a real continuation also ``voiced_share_real``, ``voicing_decision_error``, ``f0_error_cents`` (median
        absolute) and ``voiced_in_both``; with a transcript ``wer``, ``cer``, ``hypothesis``, ``reference``.
    """
    prompt = prepare_wave(prompt_wave, sample_rate, SAMPLE_RATE, min_samples=SAMPLE_RATE // 5)[0]  # [1, T]
    continuation = prepare_wave(continuation_wave, sample_rate, SAMPLE_RATE, min_samples=SAMPLE_RATE // 5)[0]
    half = prompt.shape[-1] // 2
    report: dict = {
        "prompt_seconds": prompt.shape[-1] / SAMPLE_RATE,
        "continuation_seconds": continuation.shape[-1] / SAMPLE_RATE,
        "speaker_similarity": speaker_similarity(prompt, continuation, SAMPLE_RATE),
        "same_speaker_baseline": None,  # filled below; keys in reading order
        "different_speaker_baseline": None,
    }
    other_rate = other_sample_rate or sample_rate
    if reference_same_speaker is not None:
        same = prepare_wave(reference_same_speaker, other_rate, SAMPLE_RATE)[0]
        report["same_speaker_baseline"] = speaker_similarity(prompt, same, SAMPLE_RATE)
    else:
        report["same_speaker_baseline"] = speaker_similarity(prompt[:, :half], prompt[:, half:], SAMPLE_RATE)
    if reference_other_speaker is not None:
        other = prepare_wave(reference_other_speaker, other_rate, SAMPLE_RATE)[0]
        report["different_speaker_baseline"] = speaker_similarity(prompt, other, SAMPLE_RATE)
    if voicing:
        from audiolm_lib.eval.voicing import voicing_report

        report.update(voicing_report(continuation[0], SAMPLE_RATE, reference=None if real_continuation is None else
                                     _at_rate(real_continuation, sample_rate)))
        report["voiced_share_prompt"] = voicing_report(prompt[0], SAMPLE_RATE)["voiced_share"]
        if real_continuation is not None:
            report["voiced_share_real"] = report.pop("voiced_share_reference")
    if transcript is not None:
        from audiolm_lib.eval.asr import asr_error_rates

        report.update(asr_error_rates(continuation, SAMPLE_RATE, transcript, transcriber))
    return report


def _at_rate(wave, sample_rate: int):
    """A wave at :data:`SAMPLE_RATE` as ``Tensor[T]``; a :class:`~audiolm_lib.eval.voicing.VoicingTrack` as is."""
    from audiolm_lib.eval.voicing import VoicingTrack

    return wave if isinstance(wave, VoicingTrack) else prepare_wave(wave, sample_rate, SAMPLE_RATE)[0, 0]
