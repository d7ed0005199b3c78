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

import torch
from torch import Tensor

from audiolm_lib.lm.quantize import is_quantized

MIN_PROMPT_FRAMES = 2  # a training mask needs a prompt delimiter and one scored frame
# which weights the copy trains: "all", or "transformer" (its blocks and final norm; the code and semantic embeddings
# and the output head kept as shipped, so the head's logits of codes the prompt does not use are not pushed down by
# AdamW's full-size steps). On the validation voices "transformer" at 3e-4 carried the voice further than "all" and
# cost more DNSMOS (BENCHMARKS.md, issue 20's seventeenth pass)
ADAPTED_PARTS = ("all", "transformer")


def check_settings(steps: int, learning_rate: float, batch: int, parts: str = "all") -> None:
    """Raise ``ValueError`` naming the setting that is out of range."""
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"prompt_adaptation_steps must be an integer >= 0 (0: off), got {steps!r}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"prompt_adaptation_learning_rate must be a positive number, got {learning_rate!r}")
    if isinstance(batch, bool) or int(batch) != batch or batch < 1:
        raise ValueError(f"prompt_adaptation_batch must be an integer >= 1, got {batch!r}")
    if parts not in ADAPTED_PARTS:
        raise ValueError(f"prompt_adaptation_parts must be one of {', '.join(ADAPTED_PARTS)}, got {parts!r}")


def adapt_to_prompt(acoustic, semantic_prompt: Tensor, prompt_codes: Tensor, *, steps: int,
                    learning_rate: float = 1e-4, batch: int = 8, seed: int = 0, parts: str = "all"):
    """A copy of ``acoustic`` fine-tuned for ``steps`` AdamW steps on one prompt; ``acoustic`` itself unchanged.

    Args:
        acoustic: a :class:`~audiolm_lib.lm.parallel.ParallelAcousticLM` (float weights, not int8).
        semantic_prompt: ``LongTensor[1, S0]`` the prompt's semantic ids.
        prompt_codes: ``LongTensor[1, Q, F0]`` the prompt's codes (its last window, if longer).
        steps: optimiser steps (0, or a prompt under 2 frames: ``acoustic`` itself is returned).
        learning_rate / batch: AdamW's rate; masked copies of the prompt per step.
        seed: draws the masks and the dropout.
        parts: the weights trained (:data:`ADAPTED_PARTS`): "all", or "transformer" (embeddings and head kept).

    Returns:
        the adapted copy, in eval mode.
    """
    from audiolm_lib.lm.masking import training_mask
    from audiolm_lib.lm.parallel import ParallelAcousticLM

    check_settings(steps, learning_rate, batch, parts)
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
    return adapt_to_prompt(model.acoustic, semantic_prompt, prompt_codes, steps=steps,
                           learning_rate=config.prompt_adaptation_learning_rate,
                           batch=config.prompt_adaptation_batch, seed=seed, parts=config.prompt_adaptation_parts)
