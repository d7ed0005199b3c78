"""Prematched decoder training: the codec decoder learns to render voice-matched latents as clean speech.

kNN-VC (Baas, van Niekerk & Kamper 2023, section 3.2) trains its vocoder on *prematched* features: each frame of a
training utterance replaced by the mean of its nearest frames from the same speaker's other speech, the target being
the original audio. The vocoder then sees at training what it is handed at conversion, joins and averaged frames
included, and renders them more cleanly. Here the features are the codec's quantized latents and the matching is
:mod:`audiolm_lib.voice_match`'s: the ``k`` nearest frames by cosine, their mean moved part of the way from the
frame (``strength``) and quantized again by the codec's RVQ. The "other speech" is the rest of the same crop, all
frames more than ``exclude`` frames away from the one matched (a 3 s crop leaves ~130 frames, about a 3 s prompt's
~150), so a frame cannot be matched to itself or its immediate neighbours.

:class:`Prematcher` is the callable :class:`~audiolm_lib.codecs.spectral.SpectralCodec`'s ``forward`` takes as its
``latent_transform``; the trainer makes one per step from its seeded generator, so a resumed run matches the same
items at the same strengths.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from audiolm_lib.voice_match import mean_of_frames


def match_within(latents: torch.Tensor, neighbours: int, exclude: int) -> torch.Tensor:
    """``Tensor[B, D, F]`` -> ``Tensor[B, D, F]``: each frame the mean of its ``neighbours`` nearest frames (cosine)
    among the same item's frames more than ``exclude`` frames away. A crop too short to leave ``neighbours`` such
    frames is refused."""
    frames = latents.shape[-1]
    allowed = frames - (2 * exclude + 1)
    if allowed < neighbours:
        raise ValueError(f"prematching {neighbours} neighbours more than {exclude} frames away needs crops of at "
                         f"least {2 * exclude + 1 + neighbours} frames, got {frames}")
    unit = F.normalize(latents, dim=1)
    cosines = torch.einsum("bdf,bdg->bfg", unit, unit)  # [B, F, F]
    offsets = torch.arange(frames, device=latents.device)
    near = (offsets[:, None] - offsets[None, :]).abs() <= exclude
    chosen = cosines.masked_fill(near, float("-inf")).topk(neighbours, dim=-1).indices  # [B, F, k]
    return mean_of_frames(latents, chosen)


class Prematcher:
    """Replaces the quantized latents of a share of a batch's items by their prematched, re-quantized version.

    Args:
        quantizer: the codec's residual quantizer (``encode(latents, levels)`` / ``decode(codes)``).
        share: the probability that an item is prematched (the rest stay as they are, so plain resynthesis is
            still trained).
        neighbours / exclude: see :func:`match_within`.
        strength: ``(low, high)``: each prematched item's strength drawn uniformly in it (1: the matched mean).
        generator: the ``torch.Generator`` the choices are drawn from.
    """

    def __init__(self, quantizer, share: float, neighbours: int, exclude: int, strength: tuple[float, float],
                 generator: torch.Generator):
        if not 0 <= share <= 1:
            raise ValueError(f"prematch share must be in [0, 1], got {share}")
        low, high = strength
        if not 0 < low <= high <= 1:
            raise ValueError(f"prematch strength must be (low, high) with 0 < low <= high <= 1, got {strength}")
        if int(neighbours) != neighbours or neighbours < 1 or int(exclude) != exclude or exclude < 0:
            raise ValueError(f"prematch neighbours must be >= 1 and exclude >= 0 (whole numbers), got "
                             f"{neighbours} / {exclude}")
        self.quantizer, self.share, self.neighbours, self.exclude = quantizer, share, int(neighbours), int(exclude)
        self.strength, self.generator = (float(low), float(high)), generator

    @torch.no_grad()
    def __call__(self, quantized: torch.Tensor, num_levels: int) -> torch.Tensor:
        """``Tensor[B, D, F]`` quantized latents at ``num_levels`` levels -> the same shape, detached."""
        batch = quantized.shape[0]
        picked = torch.rand(batch, generator=self.generator) < self.share
        low, high = self.strength
        strengths = low + (high - low) * torch.rand(batch, generator=self.generator)
        if not picked.any():
            return quantized.detach()
        rows = picked.nonzero().flatten().to(quantized.device)
        chosen = quantized[rows].detach().float()
        matched = match_within(chosen, self.neighbours, self.exclude)
        moved = torch.lerp(chosen, matched, strengths[picked].to(chosen)[:, None, None])
        requantized = self.quantizer.decode(self.quantizer.encode(moved, num_levels)).to(quantized.dtype)
        result = quantized.detach().clone()
        result[rows] = requantized
        return result
