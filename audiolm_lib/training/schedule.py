"""Learning-rate schedules, and when periodic actions (logs, validations, checkpoints) fall."""
from __future__ import annotations

import math
import warnings

import torch


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_ratio: float = 0.1):
    """Linear warm-up to the base LR over ``warmup_steps``, then cosine decay to ``min_ratio`` x base LR.

    A warm-up longer than half the run (a default 1000-step warm-up in a 50-step trial run would end the run at a
    small fraction of the LR) is scaled to a tenth of the run, with a warning saying so.
    """
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    warmup_steps = short_run_warmup(warmup_steps, total_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def short_run_warmup(warmup_steps: int, total_steps: int) -> int:
    """``warmup_steps``, or a tenth of ``total_steps`` (warned) when the warm-up would take over half the run."""
    scaled = max(1, total_steps // 10)
    if warmup_steps * 2 <= total_steps or scaled >= warmup_steps:
        return int(warmup_steps)
    warnings.warn(f"a {warmup_steps}-step learning-rate warm-up is more than half of this {total_steps}-step run; "
                  f"warming up over {scaled} steps instead (set warmup_steps to choose)", stacklevel=3)
    return scaled


def due(step: int, every: int | None, last: int | None = None) -> bool:
    """Whether a periodic action (every ``every`` steps; ``None``: never) or the run's ``last`` step falls on ``step``."""
    return step == last or (every is not None and step % every == 0)
