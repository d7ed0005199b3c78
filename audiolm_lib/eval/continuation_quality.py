"""Continuation quality of an AudioLM on held-out prompts, each measure next to its reference.

Speech: speaker similarity of prompt vs continuation, beside prompt vs the real continuation (same speaker) and
prompt vs another held-out speaker; DNSMOS SIG/BAK/OVRL and the pYIN voiced share of the continuation beside those
of the real continuation and of its codec re-synthesis (the ceiling the stages can reach), with the voicing decision
and F0 errors of both against the real continuation (:mod:`audiolm_lib.eval.voicing`); whisper transcripts and
words per second of continuation and real continuation. Piano: :func:`~audiolm_lib.eval.music.music_continuation_report`
(harmonicity, flatness, chroma top-3 share, onset rate, chroma similarity to the prompt) for the continuation,
the real continuation and its re-synthesis.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Sequence

import torch

from audiolm_lib.eval.seeds import item_seed

SPEECH_COLUMNS = ("generated", "real", "resynthesis")
VOICING_KEYS = ("voiced_share", "voicing_decision_error", "f0_error_cents", "voiced_in_both")


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(values) / len(values) if values else None


def speech_items(clips: Sequence[dict], prompt_seconds: float, max_continuation_seconds: float,
                 min_continuation_seconds: float = 1.5, per_speaker: int = 1) -> list[dict]:
    """Prompt / real continuation pairs, up to ``per_speaker`` per speaker: the speaker's clips joined in order,
    then cut into consecutive prompt + continuation stretches.

    Args:
        clips: ``{"set", "speaker", "wave": Tensor[T], "sample_rate"}`` speech clips (one rate for all).

    Returns:
        ``{"id", "set", "speaker", "prompt": Tensor[P], "real": Tensor[C], "sample_rate"}`` per stretch that lasts
        at least ``prompt_seconds + min_continuation_seconds``; the first of a speaker has the speaker's name as
        ``id``, the next ``<speaker>#2``, ...
    """
    if per_speaker < 1:
        raise ValueError(f"per_speaker must be >= 1, got {per_speaker}")
    by_speaker: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for clip in clips:  # a speaker of one set: two sets may name different voices alike (a manifest's "s0")
        by_speaker[clip["set"], clip["speaker"]].append(clip)
    items = []
    for (_, speaker), group in by_speaker.items():
        rate = int(group[0]["sample_rate"])
        if any(int(c["sample_rate"]) != rate for c in group):
            raise ValueError(f"clips of speaker {speaker!r} have different sample rates")
        gap = torch.zeros(int(0.3 * rate))
        passage = torch.cat([part for c in group for part in (torch.as_tensor(c["wave"]).reshape(-1), gap)][:-1])
        prompt_samples, longest = int(prompt_seconds * rate), int(max_continuation_seconds * rate)
        for index in range(per_speaker):
            stretch = passage[index * (prompt_samples + longest):]
            rest = min(len(stretch) - prompt_samples, longest)
            if rest < min_continuation_seconds * rate:
                break
            items.append({"id": speaker if index == 0 else f"{speaker}#{index + 1}", "set": group[0]["set"],
                          "speaker": speaker, "sample_rate": rate, "prompt": stretch[:prompt_samples],
                          "real": stretch[prompt_samples : prompt_samples + rest]})
    return items


def piano_items(clips: Sequence[dict], prompt_seconds: float, min_continuation_seconds: float = 1.5) -> list[dict]:
    """Each piano clip cut into a prompt (first ``prompt_seconds``) and its real continuation (the rest)."""
    items = []
    for clip in clips:
        rate, wave = int(clip["sample_rate"]), torch.as_tensor(clip["wave"]).reshape(-1)
        cut = int(prompt_seconds * rate)
        if len(wave) - cut >= min_continuation_seconds * rate:
            items.append({"id": clip["id"], "set": clip["set"], "sample_rate": rate, "prompt": wave[:cut], "real": wave[cut:]})
    return items


def _continue(model, item: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``Tensor[T]`` prompt, generated continuation, real continuation and its codec re-synthesis (through the
    levels the stages generate), all at the model's rate; the last three of the real continuation's length."""
    from audiolm_lib.audio import prepare_wave

    rate = model.sample_rate
    prompt = prepare_wave(item["prompt"], item["sample_rate"], rate)[0, 0]
    real = prepare_wave(item["real"], item["sample_rate"], rate)[0, 0]
    generator = torch.Generator().manual_seed(seed)
    generated = model.continue_audio(prompt, seconds=len(real) / rate, sample_rate=rate, generator=generator)[0, 0]
    codes = model.codec.encode(real[None, None])[:, : model.num_coarse + model.num_fine]
    # the codec's own (AudioLM.decode would add the pipeline's postfilter: the targets compare against the codec)
    resynthesis = model.codec.decode(codes)[0, 0, : len(real)]
    return prompt, generated[: len(real)].float(), real, resynthesis.float()


def _words_per_second(text: str, seconds: float) -> float:
    return len(text.split()) / seconds if seconds > 0 else 0.0


@torch.inference_mode()
def speech_continuation_quality(model, items: Sequence[dict], transcriber=None, seed: int = 0,
                                progress: bool = True) -> dict:
    """Continue every speech item with ``model`` (an :class:`~audiolm_lib.pipeline.AudioLM`) and measure it.

    Returns:
        ``{"rows": [per-set means], "items": [per-item results]}``. Per item: ``speaker_similarity``,
        ``same_speaker_baseline`` (prompt vs real continuation), ``different_speaker_baseline`` (prompt vs
        another speaker's real continuation; ``None`` with one speaker), ``dnsmos`` ``{generated, real,
        resynthesis}`` each ``{sig, bak, ovrl, p808}``, ``voicing`` ``{generated, real, resynthesis}`` each
        ``{voiced_share[, voicing_decision_error, f0_error_cents, voiced_in_both]}`` (against the real continuation),
        ``transcript`` and ``words_per_second`` for the generated and the real continuation.
    """
    from tqdm.auto import tqdm

    from audiolm_lib.eval.asr import WhisperTranscriber
    from audiolm_lib.eval.continuation import continuation_report
    from audiolm_lib.eval.perceptual import dnsmos
    from audiolm_lib.eval.voicing import voicing_report, voicing_track

    if not items:
        raise ValueError("no speech continuation items (the held-out speech clips are too short or missing)")
    transcriber = transcriber or WhisperTranscriber()
    results = []
    for number, item in enumerate(tqdm(items, desc="speech continuations", unit="item", disable=not progress)):
        prompt, generated, real, resynthesis = _continue(model, item, item_seed(seed, number))
        rate = model.sample_rate
        other = next((o for o in items[number + 1 :] + items[:number] if o["speaker"] != item["speaker"]), None)
        other_wave = None
        if other is not None:
            from audiolm_lib.audio import prepare_wave

            other_wave = prepare_wave(other["real"], other["sample_rate"], rate)[0, 0][: len(real)]
        real_track = voicing_track(real, rate)
        report = continuation_report(prompt, generated, rate, reference_same_speaker=real,
                                     reference_other_speaker=other_wave, real_continuation=real_track)
        voicing = {"generated": {key: report[key] for key in VOICING_KEYS},
                   "real": {"voiced_share": real_track.voiced_share},
                   "resynthesis": {key: value for key, value in voicing_report(resynthesis, rate, real_track).items()
                                   if key != "voiced_share_reference"}}
        seconds = len(real) / rate
        texts = {"generated": transcriber.transcribe(generated, rate), "real": transcriber.transcribe(real, rate)}
        waves = {"generated": generated, "real": real, "resynthesis": resynthesis}
        results.append({
            "id": item["id"], "set": item["set"], "prompt_seconds": len(prompt) / rate, "continuation_seconds": seconds,
            "speaker_similarity": report["speaker_similarity"],
            "same_speaker_baseline": report["same_speaker_baseline"],
            "different_speaker_baseline": report["different_speaker_baseline"],
            "dnsmos": {name: dnsmos(wave, rate) for name, wave in waves.items()},
            "voicing": voicing,
            "transcript": texts,
            "words_per_second": {name: _words_per_second(text, seconds) for name, text in texts.items()},
        })
    return {"rows": _speech_rows(results), "items": results}


def _speech_rows(results: list[dict]) -> list[dict]:
    rows = []
    for name in dict.fromkeys(r["set"] for r in results):
        group = [r for r in results if r["set"] == name]
        row = {"set": name, "items": len(group)}
        for key in ("speaker_similarity", "same_speaker_baseline", "different_speaker_baseline"):
            row[key] = _mean(r[key] for r in group)
        for column in SPEECH_COLUMNS:
            for score in ("ovrl", "sig", "bak"):
                row[f"dnsmos_{score}_{column}"] = _mean(r["dnsmos"][column][score] for r in group)
        for column in SPEECH_COLUMNS:
            row[f"voiced_share_{column}"] = _mean(r["voicing"][column]["voiced_share"] for r in group)
        for column in ("generated", "resynthesis"):
            for key in ("voicing_decision_error", "f0_error_cents"):
                row[f"{key}_{column}"] = _mean(r["voicing"][column][key] for r in group)
        for column in ("generated", "real"):
            row[f"words_per_second_{column}"] = _mean(r["words_per_second"][column] for r in group)
        rows.append(row)
    return rows


@torch.inference_mode()
def piano_continuation_quality(model, items: Sequence[dict], seed: int = 0, progress: bool = True) -> dict:
    """Continue every piano item and compare the music measures of continuation, real continuation, re-synthesis.

    Returns:
        ``{"rows": [per-set means: "<measure>_<generated|real|resynthesis>"], "items": [per-item reports]}``.
    """
    from tqdm.auto import tqdm

    from audiolm_lib.eval.music import music_continuation_report

    if not items:
        raise ValueError("no piano continuation items (the held-out piano clips are too short or missing)")
    results = []
    for number, item in enumerate(tqdm(items, desc="piano continuations", unit="item", disable=not progress)):
        prompt, generated, real, resynthesis = _continue(model, item, item_seed(seed, number))
        report = music_continuation_report(prompt, generated, real, model.sample_rate, resynthesis=resynthesis)
        results.append({"id": item["id"], "set": item["set"], "continuation_seconds": len(real) / model.sample_rate,
                        **report})
    rows = []
    for name in dict.fromkeys(r["set"] for r in results):
        group = [r for r in results if r["set"] == name]
        row = {"set": name, "items": len(group)}
        for measure in ("harmonic_ratio", "spectral_flatness", "chroma_similarity_to_prompt", "chroma_top3_ratio",
                        "onset_rate"):
            for column in SPEECH_COLUMNS:
                row[f"{measure}_{column}"] = _mean(r[measure][column] for r in group)
        rows.append(row)
    return {"rows": rows, "items": results}
