"""An in-context prior for sampling: favour the codes (or semantic ids) the prompt uses.

A cache language model (Kuhn & De Mori 1990) for RVQ codes: the frequency of each code on a level in the window's
acoustic prompt (the parallel generator: the given prompt, or in later windows the anchor and the generated
context), smoothed with half a count per code (Jeffreys), scaled by ``strength`` and added to that level's logits:
``logits + strength * log p_prompt(code)``. A prompt's codes carry what the generator most often loses across
the boundary (a voice's timbre and channel, a piece's pitches); the prior leans each level's candidates toward
them without forbidding any code. The semantic stage takes the same prior over the given prompt's ids.
``strength = 0`` is the model's own distribution, bit for bit.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

SMOOTHING = 0.5  # counts added to every code: a code the prompt never used keeps a finite prior


def check_prompt_prior(strength: float) -> float:
    """``strength`` as a float, or a ``ValueError`` naming it (finite and >= 0; 0: no prior)."""
    strength = float(strength)
    if not math.isfinite(strength) or strength < 0:
        raise ValueError(f"prompt_prior must be a finite number >= 0 (0: none), got {strength}")
    return strength


def prompt_log_prior(prompt_codes: Tensor, codebook_size: int) -> Tensor:
    """``Tensor[B, K]`` smoothed log frequencies of each of ``K`` codes in ``prompt_codes: LongTensor[B, P]``
    (codes ``>= K``, mask tokens, are not counted)."""
    batch = prompt_codes.shape[0]
    counts = torch.full((batch, codebook_size + 1), SMOOTHING, device=prompt_codes.device)
    counts.scatter_add_(1, prompt_codes.clamp(max=codebook_size), torch.ones_like(prompt_codes, dtype=counts.dtype))
    counts = counts[:, :codebook_size]
    return (counts / counts.sum(1, keepdim=True)).log()


def add_bias(logits: Tensor, bias: Tensor) -> Tensor:
    """``logits: Tensor[B, V']`` (``V' >= V``: a head may score EOS after the codes) plus ``bias: Tensor[B, V]`` on
    its first ``V`` columns, as float."""
    biased = logits.float().clone()
    biased[:, : bias.shape[-1]] += bias
    return biased
