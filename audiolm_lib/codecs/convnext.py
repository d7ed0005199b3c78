"""ConvNeXt-1D blocks (Liu et al. 2022, as used by Vocos / WavTokenizer decoders) for frame-rate codecs.

A block: depthwise conv (kernel 7) -> LayerNorm -> pointwise MLP (GELU) -> layer scale -> residual. Centred
padding: each block sees ``(kernel - 1) / 2`` frames on either side, which :attr:`ConvNeXtStack.context_frames`
sums up so that chunked encoding knows how much context makes chunks exact.
"""
from __future__ import annotations

import torch
from torch import nn


class ConvNeXtBlock(nn.Module):
    """``Tensor[B, C, F]`` -> ``Tensor[B, C, F]``."""

    def __init__(self, dim: int, mlp_ratio: float = 3.0, kernel_size: int = 7, layer_scale: float = 1e-2,
                 dropout: float = 0.0):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"ConvNeXt kernel_size must be odd (centred padding), got {kernel_size}")
        self.kernel_size = kernel_size
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        x = self.depthwise(x).transpose(1, 2)  # [B, F, C]
        x = self.gamma * self.mlp(self.norm(x))
        return residual + x.transpose(1, 2)


class ConvNeXtStack(nn.Module):
    """``depth`` blocks and a final LayerNorm over channels: ``Tensor[B, C, F]`` -> ``Tensor[B, C, F]``."""

    def __init__(self, dim: int, depth: int, mlp_ratio: float = 3.0, kernel_size: int = 7, dropout: float = 0.0):
        super().__init__()
        layer_scale = 1.0 / max(1, depth)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, mlp_ratio, kernel_size, layer_scale, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    @property
    def context_frames(self) -> int:
        """Frames on each side that influence one output frame."""
        return sum(block.kernel_size // 2 for block in self.blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.norm(x.transpose(1, 2)).transpose(1, 2)
