"""The oracle ladder: which stage of an AudioLM loses the voicing, the voice or the key.

For each held-out item (a prompt and what really follows it) four versions of the continuation, each one stage
further from the truth:

- ``real``: the real continuation (rung a);
- ``resynthesis``: its codec re-synthesis from the true codes (the levels the acoustic generator makes), decoded
  after the prompt's codes as in generation (rung b: what the codec loses; the codec's own decoding, without the
  pipeline's pitch postfilter, as it is without voice matching: both are pipeline stages after the codec);
- ``acoustic``: the acoustic generator given the prompt's codes and the **true** semantic tokens of prompt + real
  continuation (``model.acoustic.generate_acoustic``, the pipeline's sampling settings; rung c: what the acoustic
  generator loses, the semantic stage bypassed);
- ``pipeline``: the whole model continuing the prompt (``continue_audio``; rung d: what the semantic stage adds).

The same measures on every rung. Speech: pYIN voicing (voiced share of active frames; voicing decision error and
median F0 error in cents against the real continuation: :mod:`audiolm_lib.eval.voicing`; rungs c and d follow the
real timing only as far as the semantic tokens fix it), speaker similarity to the prompt (rung a is the same-speaker
baseline; another item's real continuation gives the different-speaker one) and DNSMOS. Piano: harmonic ratio,
spectral flatness and chroma similarity to the prompt (:mod:`audiolm_lib.eval.music`), beside white noise's (the
floor issue 20's piano target sets).

Rung c' (``teacher_forced``): the acoustic generator's per-level cross-entropy on the item, teacher-forced: prompt
codes and true semantic tokens given, for level ``q`` the true codes of levels ``< q`` given and levels ``>= q``
masked on every continuation frame (what generation faces when it starts level ``q``), in the generator's own
windows (a later window's prompt is the true codes before it). Per level: cross-entropy in nats and accuracy of the
argmax, beside the clip's own unigram (the entropy of that level's continuation codes: a model that knew only the
clip's code frequencies) and a uniform guess (ln K). Parallel (SoundStorm-style) generators only; ``None`` for others.
Where the pipeline adapts its generator to each prompt (``AudioLMConfig.prompt_adaptation_steps``), rungs c and c'
use the adapted copy, as the pipeline does.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from audiolm_lib.eval.seeds import item_seed
from audiolm_lib.lm.prompt_adaptation import acoustic_for_prompt

RUNGS = ("real", "resynthesis", "acoustic", "pipeline")
SPEECH_MEASURES = ("voiced_share", "voicing_decision_error", "f0_error_cents", "speaker_similarity", "dnsmos_ovrl",
                   "dnsmos_sig", "dnsmos_bak")
PIANO_MEASURES = ("harmonic_ratio", "spectral_flatness", "chroma_similarity_to_prompt", "chroma_agreement_with_real",
                  "onset_rate")
BASELINES = ("different_speaker_baseline", "matched_stranger_baseline", "white_noise_chroma_baseline")  # per item
LEVEL_MEASURES = ("cross_entropy", "accuracy", "unigram_cross_entropy", "uniform_cross_entropy")


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(values) / len(values) if values else None


@torch.inference_mode()
def rung_c_codes(model, prompt: torch.Tensor, real: torch.Tensor, seed: int = 0) -> dict:
    """The true tokens of one item and rung c's new codes before voice matching: the generator (the pipeline's, or
    its copy adapted to the prompt) given the true semantic tokens and the prompt's codes as the pipeline takes them.

    Args:
        model: an :class:`~audiolm_lib.pipeline.AudioLM`.
        prompt / real: ``Tensor[T]`` prompt and real continuation at ``model.sample_rate``.
        seed: seeds the generator (a ``torch.Generator`` of its own).

    Returns:
        ``{"semantic": LongTensor[1, S], "codes": LongTensor[1, Q, F], "prompt_frames": int, "prompt_tokens": int
        (the prompt's semantic ids), "prompt_codes": LongTensor[1, Q, prompt_frames], "sampling": the acoustic
        stages' settings, "acoustic": the generator used, "new_codes": LongTensor[1, L, F - prompt_frames]}``.
    """
    rate = model.sample_rate
    semantic, codes = model.tokenize(torch.cat([prompt, real]), rate)  # [1, S], [1, Q, F]
    prompt_frames = min(codes.shape[-1] - 1, int(math.floor(len(prompt) / rate * model.acoustic_rate + 1e-6)))
    sampling = {stage: {key: getattr(getattr(model.config, stage), key) for key in ("temperature", "top_k", "top_p")}
                for stage in model.acoustic.sampling_stages}
    prompt_codes = codes[..., :prompt_frames]
    band = getattr(model.config, "prompt_band_hz", None)
    if band is not None:  # the acoustic prompt as the pipeline takes it: the codes of the band-limited prompt
        prompt_codes = model.tokenize(torch.cat([prompt, real]), rate, band,
                                      model.config.prompt_band_mode)[1][..., :prompt_frames]
    # the pipeline's generator for this prompt: its own, or its copy adapted to the prompt where that is on
    prompt_tokens = int(math.floor(prompt_frames * model.semantic_rate / model.acoustic_rate + 1e-6))
    acoustic = acoustic_for_prompt(model, semantic[:, :prompt_tokens], prompt_codes)
    new_codes = acoustic.generate_acoustic(semantic, prompt_codes, codes.shape[-1] - prompt_frames,
                                           sampling=sampling, generator=torch.Generator().manual_seed(seed))
    return {"semantic": semantic, "codes": codes, "prompt_frames": prompt_frames, "prompt_tokens": prompt_tokens,
            "prompt_codes": prompt_codes, "sampling": sampling, "acoustic": acoustic, "new_codes": new_codes}


@torch.inference_mode()
def ladder_waves(model, prompt: torch.Tensor, real: torch.Tensor, seed: int = 0) -> tuple[dict, dict]:
    """The four rungs of one item.

    Args:
        model: an :class:`~audiolm_lib.pipeline.AudioLM`.
        prompt / real: ``Tensor[T]`` prompt and real continuation at ``model.sample_rate``.
        seed: seeds rungs c and d (each its own ``torch.Generator``).

    Returns:
        ``({rung: Tensor[T']} for RUNGS, all of one length T' <= len(real)``, and the true tokens
        ``{"semantic": LongTensor[1, S], "codes": LongTensor[1, Q, F], "prompt_frames": int, "prompt_tokens": int
        (the prompt's semantic ids), "levels": int}``: the levels the generator makes; ``"acoustic"``: the
        generator rung c used, the model's or its copy adapted to the prompt).
    """
    rate, hop = model.sample_rate, int(model.codec.hop_length)
    tokens = rung_c_codes(model, prompt, real, seed)
    semantic, codes, prompt_codes = tokens["semantic"], tokens["codes"], tokens["prompt_codes"]
    prompt_frames, prompt_tokens, acoustic = tokens["prompt_frames"], tokens["prompt_tokens"], tokens["acoustic"]
    new_codes = model.match_voice(tokens["new_codes"], prompt_codes, semantic=semantic)  # as the pipeline does
    start, levels = prompt_frames * hop, new_codes.shape[1]  # the levels the generator makes (all, or the leading)
    waves = {
        "real": real,
        "resynthesis": model.codec.decode(codes[:, :levels])[0, 0, start:],  # the codec's own: no postfilter
        "acoustic": model.decode(torch.cat([prompt_codes[:, :levels], new_codes], dim=-1),
                                 prompt[None, None])[0, 0, start:],  # the pipeline's steps after the decoder
        "pipeline": model.continue_audio(prompt, seconds=len(real) / rate, sample_rate=rate,
                                         generator=torch.Generator().manual_seed(seed))[0, 0],
    }
    length = min(len(wave) for wave in waves.values())
    waves = {rung: wave[:length].float().cpu() for rung, wave in waves.items()}
    return waves, {"semantic": semantic, "codes": codes, "prompt_frames": prompt_frames,
                   "prompt_tokens": prompt_tokens, "levels": levels, "acoustic": acoustic}


@torch.inference_mode()
def teacher_forced_levels(acoustic, semantic: torch.Tensor, codes: torch.Tensor, prompt_frames: int,
                          guidance_scale: float | None = None) -> list[dict] | None:
    """Per-level teacher-forced cross-entropy of a parallel acoustic generator on one item (see the module doc).

    The same masking as :meth:`~audiolm_lib.lm.parallel.ParallelAcousticLM.level_cross_entropy` (SoundStorm's
    training mask at ratio 1 after the prompt), here over the generator's windows, all levels in one batch, with
    accuracy and the baselines.

    Args:
        acoustic: a :class:`~audiolm_lib.lm.parallel.ParallelAcousticLM` (anything else gives ``None``).
        semantic: ``LongTensor[1, S]`` true semantic tokens of prompt + continuation.
        codes: ``LongTensor[1, Q, F]`` true codes of prompt + continuation.
        prompt_frames: ``F0``, frames of the prompt (``0 < F0 < F``).
        guidance_scale: score ``uncond + s * (cond - uncond)`` as guided sampling does (the unprompted pass masks
            each window's prompt on every level); default: the generator's ``config.guidance_scale``.

    Returns:
        One ``{"level" (1-based), "frames", "cross_entropy" (nats), "accuracy", "unigram_cross_entropy",
        "uniform_cross_entropy"}`` per level.
    """
    from audiolm_lib.lm.base import eval_mode
    from audiolm_lib.lm.parallel import ParallelAcousticLM

    if not isinstance(acoustic, ParallelAcousticLM):
        return None
    levels, total, size = codes.shape[1], codes.shape[2], acoustic.config.codebook_size
    if not 0 < prompt_frames < total:
        raise ValueError(f"prompt_frames must lie in (0, {total}), got {prompt_frames}")
    scale = float(getattr(acoustic.config, "guidance_scale", 1.0) if guidance_scale is None else guidance_scale)
    level_index = torch.arange(levels, device=codes.device)
    nll, correct = torch.zeros(levels, dtype=torch.float64), torch.zeros(levels, dtype=torch.float64)
    with eval_mode(acoustic):
        for span in acoustic.windows(prompt_frames, total):  # the frames each window of generation sees
            frames = span.frames(codes.device)
            window = codes[0][:, frames]  # [Q, W]
            known = span.known
            aligned = semantic[:, acoustic.semantic_positions_of(frames, semantic.shape[1])]
            # example b scores level b: levels >= b masked on the new frames, the rest given
            masked = (level_index[None, :, None] >= level_index[:, None, None]) & (
                torch.arange(len(frames), device=codes.device) >= known)[None, None]  # [Q, Q, W]
            ids = window[None].expand(levels, -1, -1).masked_fill(masked, size)
            hidden = acoustic.hidden(aligned.expand(levels, -1), ids)[:, known:]  # [Q, M, D]
            logits = torch.einsum("qmd,qkd->qmk", hidden, acoustic.head).float()  # [Q, M, K]
            if scale != 1.0:
                unprompted = ids.clone()
                unprompted[:, :, :known] = size
                hidden = acoustic.hidden(aligned.expand(levels, -1), unprompted)[:, known:]
                uncond = torch.einsum("qmd,qkd->qmk", hidden, acoustic.head).float()
                logits = uncond + scale * (logits - uncond)
            targets = window[:, known:]  # [Q, M]
            nll += F.cross_entropy(logits.transpose(1, 2), targets, reduction="none").sum(1).double()
            correct += (logits.argmax(-1) == targets).sum(1).double()
    frames = total - prompt_frames
    results = []
    for level in range(levels):
        counts = torch.bincount(codes[0, level, prompt_frames:], minlength=size).double()
        probs = counts[counts > 0] / frames
        results.append({"level": level + 1, "frames": frames, "cross_entropy": float(nll[level] / frames),
                        "accuracy": float(correct[level] / frames),
                        "unigram_cross_entropy": max(0.0, float(-(probs * probs.log()).sum())),
                        "uniform_cross_entropy": math.log(size)})
    return results


def _speech_measures(waves: dict, prompt: torch.Tensor, rate: int, other: torch.Tensor | None) -> dict:
    from audiolm_lib.eval.perceptual import dnsmos
    from audiolm_lib.eval.speaker import speaker_similarity
    from audiolm_lib.eval.voicing import voicing_report, voicing_track

    real_track = voicing_track(waves["real"], rate)
    measures = {}
    for rung, wave in waves.items():
        voicing = voicing_report(real_track if rung == "real" else wave, rate, reference=real_track)
        scores = dnsmos(wave, rate) if wave.abs().max() > 0 else {}
        measures[rung] = {
            "voiced_share": voicing["voiced_share"],
            "voicing_decision_error": voicing["voicing_decision_error"],
            "f0_error_cents": voicing["f0_error_cents"],
            "speaker_similarity": speaker_similarity(prompt, wave, rate) if wave.abs().max() > 0 else None,
            **{f"dnsmos_{key}": scores.get(key) for key in ("ovrl", "sig", "bak")},
        }
    baseline = speaker_similarity(prompt, other, rate) if other is not None else None
    return {"rungs": measures, "different_speaker_baseline": baseline}


def matches_prompt(model) -> bool:
    """Whether the pipeline moves what it generates toward the prompt's voice (voice matching of the codes, or
    envelope matching of the decoded audio)."""
    config = model.config
    return bool(getattr(config, "voice_match", False) or getattr(config, "envelope_match_strength", 0.0) > 0)


def _matched_stranger(model, prompt: torch.Tensor, other: torch.Tensor, tokens: dict) -> float:
    """Speaker similarity to the prompt of a different speaker's real speech through the codec, matched to the
    prompt as the pipeline matches a continuation (``voice_match`` on the codes, then the steps after the decoder,
    envelope matching included): the baseline that says how much of a matched continuation's similarity the
    matching gives whatever was generated."""
    from audiolm_lib.eval.speaker import speaker_similarity

    prompt_codes = tokens["codes"][..., : tokens["prompt_frames"]]
    other_codes = model.codec.encode(other[None, None].to(prompt_codes.device))
    semantic = None
    if model.config.voice_match_content_weight:  # the stranger's own ids after the prompt's
        other_semantic = model.tokenize(other, model.sample_rate)[0].to(tokens["semantic"].device)
        semantic = torch.cat([tokens["semantic"][:, : tokens["prompt_tokens"]], other_semantic], dim=1)
    matched = model.match_voice(other_codes[:, : tokens["levels"]], prompt_codes, semantic=semantic)
    matched_audio = model.decode(matched, prompt[None, None].to(prompt_codes.device))
    return speaker_similarity(prompt, matched_audio[0, 0].float().cpu(), model.sample_rate)


def _piano_measures(waves: dict, prompt: torch.Tensor, rate: int) -> dict:
    from audiolm_lib.eval.music import chroma_agreement, chroma_similarity, music_measures

    measures = {}
    for rung, wave in waves.items():  # agreement with the real continuation: rungs b and c render its tokens
        music = music_measures(wave, rate)
        measures[rung] = {"harmonic_ratio": music["harmonic_ratio"], "spectral_flatness": music["spectral_flatness"],
                          "chroma_similarity_to_prompt": chroma_similarity(prompt, wave, rate),
                          "chroma_agreement_with_real": chroma_agreement(waves["real"], wave, rate),
                          "onset_rate": music["onset_rate"]}
    return {"rungs": measures, "white_noise_chroma_baseline": white_noise_chroma_baseline(prompt, waves["real"], rate)}


def white_noise_chroma_baseline(prompt: torch.Tensor, real: torch.Tensor, rate: int) -> float | None:
    """Chroma similarity to the prompt of white noise as long and as loud as the real continuation (seeded: the
    same for every run): issue 20's floor for a piano continuation, which must relate to the prompt's harmony more
    than noise does (noise is not 0: its flat chroma has a cosine of ~0.7 with any clip's)."""
    from audiolm_lib.eval.music import chroma_similarity

    noise = torch.randn(len(real), generator=torch.Generator().manual_seed(0))
    noise = noise * real.float().pow(2).mean().sqrt().clamp_min(1e-4)
    return chroma_similarity(prompt, noise, rate)


@torch.inference_mode()
def oracle_ladder(model, items: Sequence[dict], domain: str, seed: int = 0, progress: bool = True) -> dict:
    """The ladder of every item of one domain.

    Args:
        model: an :class:`~audiolm_lib.pipeline.AudioLM`.
        items: ``{"id", "set", "prompt": Tensor[P], "real": Tensor[C], "sample_rate"[, "speaker"]}`` each (as
            :func:`~audiolm_lib.eval.continuation_quality.speech_items` / ``piano_items`` make them).
        domain: ``"speech"`` or ``"piano"`` (which measures).
        seed: item ``i`` is generated with ``item_seed(seed, i)`` (rungs c and d; d as in the continuation report;
            :mod:`audiolm_lib.eval.seeds`).

    Returns:
        ``{"rows": [per set and rung: measure means], "levels": [per set and level: teacher-forced means],
        "items": [{"id", "set", "seconds", "rungs": {rung: measures}, "teacher_forced": [per level] or None
        [, "different_speaker_baseline"][, "matched_stranger_baseline": where :func:`matches_prompt`]}]}``.
    """
    from tqdm.auto import tqdm

    from audiolm_lib.audio import prepare_wave

    if domain not in ("speech", "piano"):
        raise ValueError(f"domain must be 'speech' or 'piano', got {domain!r}")
    if not items:
        raise ValueError(f"no {domain} items for the oracle ladder (the held-out clips are too short or missing)")
    rate = model.sample_rate
    results = []
    for number, item in enumerate(tqdm(items, desc=f"{domain} ladder", unit="item", disable=not progress)):
        prompt = prepare_wave(item["prompt"], item["sample_rate"], rate)[0, 0]
        real = prepare_wave(item["real"], item["sample_rate"], rate)[0, 0]
        waves, tokens = ladder_waves(model, prompt, real, item_seed(seed, number))
        if domain == "speech":
            others = items[number + 1:] + items[:number]
            other = next((o for o in others if o.get("speaker") != item.get("speaker")), None)
            other_wave = None if other is None else prepare_wave(other["real"], other["sample_rate"], rate)[0, 0]
            measured = _speech_measures(waves, prompt, rate, other_wave)
            if other_wave is not None and matches_prompt(model):
                measured["matched_stranger_baseline"] = _matched_stranger(model, prompt, other_wave, tokens)
        else:
            measured = _piano_measures(waves, prompt, rate)
        results.append({"id": item["id"], "set": item["set"], "seconds": len(waves["real"]) / rate, **measured,
                        "teacher_forced": teacher_forced_levels(tokens["acoustic"], tokens["semantic"], tokens["codes"],
                                                                tokens["prompt_frames"])})
    return {"rows": _rows(results, SPEECH_MEASURES if domain == "speech" else PIANO_MEASURES),
            "levels": _level_rows(results), "items": results}


def _rows(results: list[dict], measures: Sequence[str]) -> list[dict]:
    rows = []
    for name in dict.fromkeys(r["set"] for r in results):
        group = [r for r in results if r["set"] == name]
        for rung in RUNGS:
            row = {"set": name, "rung": rung, "items": len(group)}
            row.update({key: _mean(r["rungs"][rung][key] for r in group) for key in measures})
            for baseline in BASELINES:
                if baseline in group[0]:
                    row[baseline] = _mean(r.get(baseline) for r in group)
            rows.append(row)
    return rows


def _level_rows(results: list[dict]) -> list[dict]:
    rows = []
    for name in dict.fromkeys(r["set"] for r in results):
        group = [r for r in results if r["set"] == name and r["teacher_forced"]]
        for level in range(len(group[0]["teacher_forced"]) if group else 0):
            row = {"set": name, "level": level + 1, "items": len(group)}
            row.update({key: _mean(r["teacher_forced"][level][key] for r in group) for key in LEVEL_MEASURES})
            rows.append(row)
    return rows
