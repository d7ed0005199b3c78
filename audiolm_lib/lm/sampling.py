"""Choosing the next token from logits: temperature, top-k, top-p (nucleus), greedy, seeded generators.

Also the sliding-window arithmetic shared by the sequential stages: a stage model is trained on crops of a
fixed length (the paper: 30 s semantic, 10 s coarse, 3 s fine), so generation longer than that keeps only
the most recent context. :func:`window_start` says where the window begins.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class SamplingConfig:
    """How one stage picks tokens.

    Attributes:
        temperature: divides the logits; ``0`` means greedy (argmax).
        top_k: keep only the ``k`` most likely tokens (``None``: all).
        top_p: keep the smallest set of tokens whose probability mass reaches ``p`` (``None``: all).
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        validate_sampling(self.temperature, self.top_k, self.top_p)


def validate_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise ``ValueError`` naming the bad sampling parameter."""
    if temperature is None or temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and not (0.0 < top_p <= 1.0):
        raise ValueError(f"top_p must be in (0, 1] or None, got {top_p}")


def sample_logits(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw one token per row.

    Args:
        logits: ``Tensor[B, V]`` unnormalised scores.
        temperature: ``0`` -> argmax (no randomness, ``generator`` unused).
        top_k: restrict to the ``k`` highest logits (clipped to ``V``).
        top_p: restrict to the nucleus of probability mass ``p`` (at least one token always survives).
        generator: a ``torch.Generator`` on ``logits.device`` for exact reproducibility.

    Returns:
        ``LongTensor[B]`` token ids in ``[0, V)``.
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be Tensor[B, V], got shape {tuple(logits.shape)}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        sorted_probs = sorted_logits.softmax(dim=-1)
        # drop a token when the mass strictly before it already reaches top_p (the first always survives)
        drop_sorted = (sorted_probs.cumsum(dim=-1) - sorted_probs) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter_(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = logits.softmax(dim=-1)
    # exponential race: argmax p_i / E_i with E_i ~ Exp(1) picks i with probability p_i; this is what
    # torch.multinomial does for one draw, minus its input checks (a measurable cost per decoding step)
    race = torch.empty_like(probs).exponential_(1.0, generator=generator)
    return probs.div_(race).argmax(dim=-1)


def window_start(position: int, current_start: int, window: int, hop: int) -> int:
    """Start of the context window needed to produce item ``position``.

    The window ``[start, start + window)`` must contain ``position``. While it does, the start stays put
    (so the KV cache keeps growing); once ``position`` falls outside, the window jumps so that ``hop``
    fresh items fit before the next jump: ``start = position - (window - hop)``. Jumping by ``hop``
    rather than by one keeps re-encoding the context rare.
    """
    if window < 1 or not (1 <= hop <= window):
        raise ValueError(f"need window >= 1 and 1 <= hop <= window, got window={window}, hop={hop}")
    if current_start <= position < current_start + window:
        return current_start
    return max(0, position - (window - hop))
