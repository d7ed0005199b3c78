"""Residual finite scalar quantization (Mentzer et al. 2023) behind the library's residual-VQ interface.

The quantizer itself is ``vector_quantize_pytorch.ResidualFSQ`` (the kept implementation); this adapter only
gives it what the codecs need from :class:`~audiolm_lib.codecs.rvq.ResidualVQ`: a chosen number of levels per
call (the trainer draws it, so every rank and a resumed run agree), ``encode`` / ``decode`` of
``LongTensor[B, Q, F]`` codes, per-level perplexity, and a (zero) commitment loss -- FSQ has no codebook to
collapse and needs none.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from audiolm_lib.codecs.rvq import RVQOutput


def fsq_levels_for(codebook_size: int) -> tuple[int, ...]:
    """FSQ levels whose product is ``codebook_size``: 1024 -> (4, 4, 4, 4, 4), 256 -> (4, 4, 4, 4), ..."""
    levels = []
    remaining = codebook_size
    while remaining % 4 == 0 and remaining > 1:
        levels.append(4)
        remaining //= 4
    while remaining % 2 == 0 and remaining > 1:
        levels.append(2)
        remaining //= 2
    if remaining != 1 or not levels:
        raise ValueError(f"residual FSQ needs a codebook size that is a power of two, got {codebook_size}")
    return tuple(levels)


class ResidualFSQ(nn.Module):
    """``num_quantizers`` FSQ levels on successive residuals (scales ``levels ** -q``) of a projected latent."""

    def __init__(self, dim: int, num_quantizers: int = 12, codebook_size: int = 1024,
                 levels: Sequence[int] | None = None):
        super().__init__()
        try:
            from vector_quantize_pytorch import ResidualFSQ as _ResidualFSQ
        except ImportError as exc:  # an optional dependency: name the package
            raise ImportError("quantizer='rfsq' needs the package 'vector-quantize-pytorch' "
                              "(pip install 'audiolm_lib[codecs]')") from exc
        levels = tuple(levels) if levels else fsq_levels_for(codebook_size)
        self.inner = _ResidualFSQ(dim=dim, levels=list(levels), num_quantizers=num_quantizers)
        if self.inner.codebook_size != codebook_size:
            raise ValueError(f"FSQ levels {levels} give {self.inner.codebook_size} codes, not {codebook_size}")
        self.num_quantizers = num_quantizers
        self.codebook_size = codebook_size

    def _check_levels(self, num_levels: int) -> None:
        if not 1 <= num_levels <= self.num_quantizers:
            raise ValueError(f"number of quantizer levels must be in 1..{self.num_quantizers}, got {num_levels}")

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inner.project_in(x.transpose(1, 2))  # [B, F, d]
        clamp = self.inner.soft_clamp_input_value
        return (x / clamp).tanh() * clamp

    def forward(self, x: torch.Tensor, num_levels: int | None = None) -> RVQOutput:
        """Quantize ``Tensor[B, D, F]`` with the first ``num_levels`` levels (straight-through rounding)."""
        num_levels = self.num_quantizers if num_levels is None else num_levels
        self._check_levels(num_levels)
        residual = self._project(x)
        quantized = torch.zeros_like(residual)
        codes, perplexities = [], []
        for layer, scale in zip(self.inner.layers[:num_levels], self.inner.scales[:num_levels]):
            level_quantized, level_codes = layer(residual / scale)
            level_quantized = level_quantized * scale
            residual = residual - level_quantized.detach()
            quantized = quantized + level_quantized
            codes.append(level_codes.long())
            perplexities.append(_perplexity(level_codes, self.codebook_size))
        out = self.inner.project_out(quantized).transpose(1, 2)
        return RVQOutput(out, torch.stack(codes, dim=1), x.new_zeros(()), torch.stack(perplexities))

    @torch.no_grad()
    def encode(self, x: torch.Tensor, num_levels: int | None = None) -> torch.Tensor:
        """``Tensor[B, D, F]`` -> ``LongTensor[B, Q', F]``."""
        return self.forward(x, num_levels).codes

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``LongTensor[B, Q', F]`` -> ``Tensor[B, D, F]``."""
        self._check_levels(codes.shape[1])
        total = 0.0
        for level in range(codes.shape[1]):
            layer, scale = self.inner.layers[level], self.inner.scales[level]
            total = total + layer.indices_to_codes(codes[:, level]) * scale
        return self.inner.project_out(total).transpose(1, 2)


def _perplexity(codes: torch.Tensor, codebook_size: int) -> torch.Tensor:
    counts = torch.bincount(codes.reshape(-1).long(), minlength=codebook_size).float()
    probs = counts / counts.sum().clamp_min(1)
    return torch.exp(-(probs * torch.log(probs.clamp_min(1e-10))).sum())
