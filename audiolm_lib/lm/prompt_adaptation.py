"""Test-time adaptation of a parallel acoustic generator to its prompt (issue 20, sixteenth pass).

The speech generator was trained on few voices and carries an unheard voice poorly: on recorded validation voices
its continuation's voice and pitch come mostly from its own prior, not from the acoustic prompt (BENCHMARKS.md,
issue 20's fifteenth pass, the prompt-swap probe). A few optimiser steps on the prompt itself, with the training
objective (SoundStorm masks drawn over the prompt's own codes, its own semantic ids as the condition), give a copy
of the generator that has heard this voice, the way speaker-adaptive TTS fine-tunes on a few seconds of a new
speaker. The copy generates this continuation and is dropped; the model itself never changes.

Deterministic: the masks and dropout draw from their own seed (the global RNG is forked and restored), so a seeded
continuation stays reproducible and other code's random draws are untouched.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from audiolm_lib.lm.quantize import is_quantized

MIN_PROMPT_FRAMES = 2  # a training mask needs a prompt delimiter and one scored frame
# which weights the copy trains: "all", or "transformer" (its blocks and final norm; the code and semantic embeddings
# and the output head kept as shipped, so the head's logits of codes the prompt does not use are not pushed down by
# AdamW's full-size steps). On the validation voices "transformer" at 3e-4 carried the voice further than "all" and
# cost more DNSMOS (BENCHMARKS.md, issue 20's seventeenth pass)
ADAPTED_PARTS = ("all", "transformer")
# the anchor: the prompt's last seconds and as many seconds the shipped stages make from it (one fixed draw), on whose
# new frames the copy is held to the shipped generator's predictions (a KL term of weight
# ``prompt_adaptation_anchor_weight``): the voice from the prompt, the shipped generator where the content is new
ANCHOR_SECONDS = 2.0
ANCHOR_BATCH = 4  # masked copies of the anchor per step
ANCHOR_SEED = 11


@dataclass
class Anchor:
    """``semantic: LongTensor[1, S]`` and ``codes: LongTensor[1, Q, F]``: ``prompt_frames`` frames of the prompt, then
    the shipped stages' continuation of it."""

    semantic: Tensor
    codes: Tensor
    prompt_frames: int


def check_settings(steps: int, learning_rate: float, batch: int, parts: str = "all",
                   anchor_weight: float = 0.0) -> None:
    """Raise ``ValueError`` naming the setting that is out of range."""
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"prompt_adaptation_steps must be an integer >= 0 (0: off), got {steps!r}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"prompt_adaptation_learning_rate must be a positive number, got {learning_rate!r}")
    if isinstance(batch, bool) or int(batch) != batch or batch < 1:
        raise ValueError(f"prompt_adaptation_batch must be an integer >= 1, got {batch!r}")
    if parts not in ADAPTED_PARTS:
        raise ValueError(f"prompt_adaptation_parts must be one of {', '.join(ADAPTED_PARTS)}, got {parts!r}")
    if not (math.isfinite(anchor_weight) and anchor_weight >= 0):
        raise ValueError(f"prompt_adaptation_anchor_weight must be a finite number >= 0 (0: off), got {anchor_weight!r}")


def make_anchor(model, semantic_prompt: Tensor, prompt_codes: Tensor, seconds: float = ANCHOR_SECONDS,
                seed: int = ANCHOR_SEED) -> Anchor:
    """The prompt's last ``seconds`` and ``seconds`` of continuation by ``model``'s own semantic stage and acoustic
    generator (its config's sampling, one seeded draw): new content in this voice, as the shipped stages render it."""
    acoustic = model.acoustic
    draw = torch.Generator(device="cpu").manual_seed(seed)
    new_tokens = max(1, round(seconds * acoustic.config.semantic_rate))
    new_frames = max(1, round(seconds * acoustic.config.acoustic_rate))
    sampling = {stage: model._sampling(stage, {}) for stage in ("semantic", "acoustic")}  # the config's, as generating
    with torch.inference_mode():
        new_semantic = model.semantic_lm.generate(semantic_prompt, new_tokens, generator=draw, **sampling["semantic"])
        all_semantic = torch.cat([semantic_prompt, new_semantic], 1)
        new_codes = acoustic.generate_acoustic(all_semantic, prompt_codes, new_frames,
                                               sampling={"acoustic": sampling["acoustic"]}, generator=draw)
    keep = min(prompt_codes.shape[-1], new_frames)
    ratio = acoustic.config.semantic_rate / acoustic.config.acoustic_rate
    first_token = int(math.floor((prompt_codes.shape[-1] - keep) * ratio + 1e-6))
    return Anchor(all_semantic[:, first_token:].clone(), torch.cat([prompt_codes[..., -keep:], new_codes], -1).clone(),
                  keep)


def anchor_divergence(tuned, shipped, anchor: Anchor, masks: torch.Generator) -> Tensor:
    """KL(shipped || tuned) per scored token on the anchor's new frames, under :data:`ANCHOR_BATCH` training masks
    whose prompt delimiter is the anchor's boundary."""
    from audiolm_lib.lm.masking import training_mask

    mask = training_mask(ANCHOR_BATCH, anchor.codes.shape[1], anchor.codes.shape[-1], generator=masks,
                         prompt_frames=torch.full((ANCHOR_BATCH,), anchor.prompt_frames),
                         scored_levels=tuned.config.output_levels)
    semantic = anchor.semantic.expand(ANCHOR_BATCH, -1)
    codes = anchor.codes.expand(ANCHOR_BATCH, -1, -1)
    logits, _ = tuned.masked_logits(semantic, codes, mask)
    with torch.no_grad():
        target, _ = shipped.masked_logits(semantic, codes, mask)
    return F.kl_div(F.log_softmax(logits.float(), -1), F.log_softmax(target.float(), -1), log_target=True,
                    reduction="batchmean")


def adapt_to_prompt(acoustic, semantic_prompt: Tensor, prompt_codes: Tensor, *, steps: int,
                    learning_rate: float = 1e-4, batch: int = 8, seed: int = 0, parts: str = "all",
                    anchor: Anchor | None = None, anchor_weight: float = 0.0):
    """A copy of ``acoustic`` fine-tuned for ``steps`` AdamW steps on one prompt; ``acoustic`` itself unchanged.

    Args:
        acoustic: a :class:`~audiolm_lib.lm.parallel.ParallelAcousticLM` (float weights, not int8).
        semantic_prompt: ``LongTensor[1, S0]`` the prompt's semantic ids.
        prompt_codes: ``LongTensor[1, Q, F0]`` the prompt's codes (its last window, if longer).
        steps: optimiser steps (0, or a prompt under 2 frames: ``acoustic`` itself is returned).
        learning_rate / batch: AdamW's rate; masked copies of the prompt per step.
        seed: draws the masks and the dropout.
        parts: the weights trained (:data:`ADAPTED_PARTS`): "all", or "transformer" (embeddings and head kept).
        anchor / anchor_weight: with a weight above 0, each step adds that weight times :func:`anchor_divergence` on
            ``anchor`` (:func:`make_anchor`): the copy held to ``acoustic``'s predictions where the content is new.

    Returns:
        the adapted copy, in eval mode.
    """
    from audiolm_lib.lm.masking import training_mask
    from audiolm_lib.lm.parallel import ParallelAcousticLM

    check_settings(steps, learning_rate, batch, parts, anchor_weight)
    if anchor_weight and anchor is None:
        raise ValueError("prompt_adaptation_anchor_weight above 0 needs an anchor (make_anchor)")
    if not isinstance(acoustic, ParallelAcousticLM):
        raise TypeError("prompt adaptation fine-tunes a parallel acoustic generator (ParallelAcousticLM); this "
                        f"pipeline's is a {type(acoustic).__name__}: set prompt_adaptation_steps to 0")
    if is_quantized(acoustic):
        raise ValueError("prompt adaptation needs the acoustic generator's float weights, and this one is int8: "
                         "adapt before quantize_int8, or quantise only the semantic stage")
    if semantic_prompt.shape[0] != 1 or prompt_codes.shape[0] != 1:
        raise ValueError(f"prompt adaptation adapts to one prompt at a time (batch 1), got a batch of "
                         f"{prompt_codes.shape[0]}")
    frames = prompt_codes.shape[-1]
    if steps == 0 or frames < MIN_PROMPT_FRAMES:
        return acoustic
    keep = min(frames, acoustic.window, acoustic.transformer.config.max_seq_len)
    ratio = acoustic.config.semantic_rate / acoustic.config.acoustic_rate
    first_token = min(semantic_prompt.shape[1] - 1, int(math.floor((frames - keep) * ratio + 1e-6)))
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # clones: the prompt's tokens may be inference tensors, which autograd cannot save
        codes = prompt_codes[..., frames - keep:].clone().expand(batch, -1, -1)
        semantic = semantic_prompt[:, first_token:].clone().expand(batch, -1)
        tuned = copy.deepcopy(acoustic).train()
        trained = list((tuned if parts == "all" else tuned.transformer).parameters())
        for parameter in tuned.parameters():
            parameter.requires_grad_(False)
        for parameter in trained:
            parameter.requires_grad_(True)
        optimiser = torch.optim.AdamW(trained, lr=learning_rate, weight_decay=0.0)
        masks = torch.Generator(device="cpu").manual_seed(seed)
        for _ in range(int(steps)):
            # the training masks without prompt dropout: every copy keeps its prompt frames
            mask = training_mask(batch, codes.shape[1], keep, generator=masks,
                                 scored_levels=tuned.config.output_levels)
            loss = tuned(semantic, codes, mask=mask)
            if anchor_weight:
                loss = loss + anchor_weight * anchor_divergence(tuned, acoustic, anchor, masks)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    for parameter in tuned.parameters():
        parameter.requires_grad_(False)
    return tuned.eval()


def acoustic_for_prompt(model, semantic_prompt: Tensor, prompt_codes: Tensor | None, steps: int | None = None,
                        seed: int = 0):
    """The acoustic generator an :class:`~audiolm_lib.AudioLM` continues ``prompt_codes`` with: its own, or a copy
    adapted to the prompt where ``steps`` (None: ``model.config.prompt_adaptation_steps``) is above 0."""
    config = model.config
    steps = config.prompt_adaptation_steps if steps is None else steps
    if not steps or prompt_codes is None or not prompt_codes.shape[-1]:
        return model.acoustic
    anchor_weight = config.prompt_adaptation_anchor_weight
    anchor = make_anchor(model, semantic_prompt, prompt_codes) if anchor_weight else None
    return adapt_to_prompt(model.acoustic, semantic_prompt, prompt_codes, steps=steps,
                           learning_rate=config.prompt_adaptation_learning_rate,
                           batch=config.prompt_adaptation_batch, seed=seed, parts=config.prompt_adaptation_parts,
                           anchor=anchor, anchor_weight=anchor_weight)
