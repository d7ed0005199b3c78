"""SoundStorm's masking: which acoustic tokens a training example hides and scores, and how many tokens each
decoding iteration reveals.

Training (Borsos et al. 2023, sec. 3.2), per example of ``T`` frames and ``Q`` RVQ levels:

1. a prompt delimiter ``t ~ U{0 .. T-1}``: frames ``< t`` are an acoustic prompt, never masked;
2. a level ``q ~ U{0 .. Q-1}`` (``U{0 .. L-1}`` for a model that makes only the leading ``L`` levels): levels
   ``< q`` are given (unmasked) everywhere;
3. a ratio ``p = cos(u)``, ``u ~ U[0, pi/2)`` (the cosine schedule): at level ``q``, ``max(1, round(p * (T - t)))``
   of the non-prompt frames, chosen uniformly at random, are masked (the paper draws each frame with probability
   ``p``; an exact count keeps at least one scored token per example and the same expected ratio);
4. levels ``> q`` are masked at every non-prompt frame;
5. the loss is taken only on the masked frames of level ``q``;
6. (classifier-free guidance, off by default) with probability ``prompt_dropout`` an example's prompt frames are
   masked on every level too, so the model also learns the unprompted distribution that
   :class:`~audiolm_lib.lm.parallel.ParallelAcousticLM` contrasts with the prompted one at inference
   (``guidance_scale``). Drawn after everything else, so ``prompt_dropout=0`` gives exactly the same masks.

Decoding (MaskGIT, Chang et al. 2022): a level with ``N`` iterations over ``M`` masked frames keeps
``floor(M * cos(pi/2 * (i + 1) / N))`` frames masked after iteration ``i`` (so none after the last), re-masking the
least confident of the frames it sampled.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class TrainingMask:
    """What one batch hides and scores.

    Attributes:
        masked: ``BoolTensor[B, Q, T]``: the input token is replaced by its level's mask token.
        scored: ``BoolTensor[B, T]``: frames whose level-``level[b]`` token is a loss target (all masked).
        level: ``LongTensor[B]``: the level each example is trained on (0-based).
        prompt_frames: ``LongTensor[B]``: the prompt delimiter ``t`` (frames before it are never masked).
        ratio: ``Tensor[B]``: the cosine-schedule masking ratio ``p`` drawn for each example.
        prompt_dropped: ``BoolTensor[B]``: examples whose prompt frames are masked on every level (guidance
            training); ``None`` when no example is dropped.
    """

    masked: Tensor
    scored: Tensor
    level: Tensor
    prompt_frames: Tensor
    ratio: Tensor
    prompt_dropped: Tensor | None = None


def cosine_ratio(u: Tensor) -> Tensor:
    """Masking ratio ``cos(u)`` for ``u`` in ``[0, pi/2]``: 1 (all masked) at 0, 0 at ``pi/2``."""
    return torch.cos(u)


def training_mask(batch: int, levels: int, frames: int, *, generator: torch.Generator | None = None,
                  device: torch.device | str | None = None, prompt: bool = True,
                  prompt_dropout: float = 0.0, prompt_frames: Tensor | None = None,
                  scored_levels: int | None = None) -> TrainingMask:
    """Draw SoundStorm's training mask for ``batch`` examples of ``levels`` x ``frames`` tokens.

    Args:
        batch / levels / frames: ``B``, ``Q``, ``T`` (``T >= 1``, ``Q >= 1``).
        generator: a seeded ``torch.Generator`` (on CPU) makes the mask reproducible.
        device: where the returned tensors live.
        prompt: draw the prompt delimiter (``False``: ``t = 0``, no prompt).
        prompt_dropout: share of examples whose prompt is masked on every level (step 6; 0: none, no draw).
        prompt_frames: ``LongTensor[B]``, the prompt delimiter of examples whose prompt is given (the data put a
            prompt from elsewhere there), ``-1`` where it is drawn; ``None``: all drawn.
        scored_levels: the level ``q`` is drawn among the first ``scored_levels`` (default all ``Q``); the same
            number of random draws either way.

    Returns:
        a :class:`TrainingMask`.
    """
    if batch < 1 or levels < 1 or frames < 1:
        raise ValueError(f"need batch, levels and frames >= 1, got {batch}, {levels}, {frames}")
    if not 0.0 <= prompt_dropout <= 1.0:
        raise ValueError(f"prompt_dropout must be in [0, 1], got {prompt_dropout}")
    scored_levels = levels if scored_levels is None else int(scored_levels)
    if not 1 <= scored_levels <= levels:
        raise ValueError(f"scored_levels must be in [1, {levels}], got {scored_levels}")
    level = torch.randint(scored_levels, (batch,), generator=generator)
    given = prompt_frames
    if prompt:
        prompt_frames = torch.randint(frames, (batch,), generator=generator)
    else:
        prompt_frames = torch.zeros(batch, dtype=torch.long)
    if given is not None:  # the draw above still happens: the rest of the mask is what it would have been
        given = given.detach().cpu().long()
        if given.shape != (batch,) or int(given.max()) >= frames:
            raise ValueError(f"prompt_frames must be a LongTensor[{batch}] of values < {frames}, got {tuple(given.shape)}")
        prompt_frames = torch.where(given >= 0, given, prompt_frames)
    ratio = cosine_ratio(torch.rand(batch, generator=generator) * (math.pi / 2))
    free = frames - prompt_frames  # >= 1
    count = torch.clamp(torch.round(ratio * free), min=1).long()
    position = torch.arange(frames)[None]  # [1, T]
    is_free = position >= prompt_frames[:, None]  # [B, T]
    # a uniformly random subset of `count` free frames: rank random keys among the free frames
    keys = torch.rand(batch, frames, generator=generator).masked_fill(~is_free, 2.0)
    rank = keys.argsort(dim=1).argsort(dim=1)
    scored = rank < count[:, None]
    level_index = torch.arange(levels)[None, :, None]  # [1, Q, 1]
    above = (level_index > level[:, None, None]) & is_free[:, None, :]
    at = (level_index == level[:, None, None]) & scored[:, None, :]
    masked = above | at
    dropped = None
    if prompt_dropout > 0:  # drawn last: the draws above are the same with or without guidance training
        dropped = torch.rand(batch, generator=generator) < prompt_dropout
        masked |= (dropped[:, None] & ~is_free)[:, None, :]
        dropped = dropped.to(device)
    return TrainingMask(masked.to(device), scored.to(device), level.to(device), prompt_frames.to(device),
                        ratio.to(device), dropped)


def remaining_masked(total: int, iteration: int, iterations: int) -> int:
    """Frames still masked after decoding iteration ``iteration`` (0-based) of ``iterations``, of ``total``.

    ``floor(total * cos(pi/2 * (iteration + 1) / iterations))``, and always fewer than before the iteration
    (every iteration reveals at least one frame while any is masked); 0 after the last.
    """
    if iterations < 1 or not 0 <= iteration < iterations:
        raise ValueError(f"need 0 <= iteration < iterations, got {iteration} of {iterations}")
    if iteration == iterations - 1:
        return 0
    keep = math.floor(total * math.cos(math.pi / 2 * (iteration + 1) / iterations))
    before = total if iteration == 0 else remaining_masked(total, iteration - 1, iterations)
    return max(0, min(keep, before - 1))


def reveal_schedule(total: int, iterations: int) -> list[int]:
    """How many frames each of ``iterations`` iterations reveals when ``total`` frames start masked (sums to
    ``total``; iterations that would reveal nothing are still listed with 0)."""
    counts, before = [], total
    for i in range(iterations):
        after = remaining_masked(total, i, iterations)
        counts.append(before - after)
        before = after
    return counts
