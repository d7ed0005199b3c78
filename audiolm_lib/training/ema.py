"""Exponential moving average of a model's weights (evaluated and exported instead of the raw weights)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from audiolm_lib.training.distributed import unwrap as _unwrap


class EMA(nn.Module):
    """Keeps ``shadow = decay * shadow + (1 - decay) * weights`` after each ``update``.

    Buffers (e.g. codebooks updated by EMA inside the model) are copied, not averaged.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup_steps: int = 100):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.warmup_steps = warmup_steps
        self.shadow = copy.deepcopy(_unwrap(model)).eval().requires_grad_(False)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.num_updates += 1
        # short warm-up so early averages are not dominated by the random initialisation
        decay = min(self.decay, (1 + self.num_updates.item()) / (self.warmup_steps + self.num_updates.item()))
        source = _unwrap(model)
        shadow_params = list(self.shadow.parameters())
        params = [p.detach().to(s.dtype) for s, p in zip(shadow_params, source.parameters())]
        # one fused call instead of a Python loop over every tensor
        torch._foreach_lerp_(shadow_params, params, 1.0 - decay)
        shadow_buffers = list(self.shadow.buffers())
        if shadow_buffers:
            torch._foreach_copy_(shadow_buffers, list(source.buffers()))
