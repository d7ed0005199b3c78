"""Phase-aware losses for codecs that predict an STFT phase (APNet / APCodec, Ai & Ling 2023).

The phase wraps at 2 pi, so differences go through the anti-wrapping function
``f_AW(x) = |x - 2 pi round(x / 2 pi)|`` before averaging. Three views of the phase are compared:

- instantaneous phase (IP): the phase itself;
- group delay (GD): its difference along frequency;
- instantaneous angular frequency (IAF): its difference along time.

Unlike APNet, the mean is weighted by the target magnitude: in silent bins the phase of the target is noise
and only adds variance to the gradient (on small CPU batches that variance slowed learning).
"""
from __future__ import annotations

import math

import torch


def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """``|x - 2 pi round(x / 2 pi)|``: the distance of an angle difference to 0 on the circle."""
    return (x - 2 * math.pi * torch.round(x / (2 * math.pi))).abs()


def phase_losses(predicted: torch.Tensor, target: torch.Tensor, magnitude: torch.Tensor) -> dict[str, torch.Tensor]:
    """IP, GD and IAF losses of ``predicted`` vs ``target`` phases, ``Tensor[B, bins, N]`` each, weighted by
    ``magnitude`` (``Tensor[B, bins, N]``, the target's). Returns ``{"ip", "gd", "iaf"}`` scalars."""
    weight = magnitude / magnitude.mean(dim=(1, 2), keepdim=True).clamp_min(1e-8)

    def weighted(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return (values * weights).sum() / weights.sum().clamp_min(1e-8)

    error = predicted - target
    ip = weighted(anti_wrap(error), weight)
    gd = weighted(anti_wrap(error[:, 1:] - error[:, :-1]), torch.minimum(weight[:, 1:], weight[:, :-1]))
    iaf = weighted(anti_wrap(error[..., 1:] - error[..., :-1]), torch.minimum(weight[..., 1:], weight[..., :-1]))
    return {"ip": ip, "gd": gd, "iaf": iaf}
