"""The loop every trainer runs (language-model stages, codecs, and through them the small recipe): steps until the
step count or the wall-clock budget, periodic logs / validation, checkpoints when due or when stopping.

Each trainer supplies its own step (optimisation, EMA), its periodic work (what to log, how to validate) and its
checkpoint; the loop owns the progress bar, the budget clock and the stopping rule, which every DDP rank agrees on
(one rank stopping alone would leave the others waiting in their next all-reduce).
"""
from __future__ import annotations

import time
from typing import Any, Callable

from audiolm_lib.training.distributed import any_rank
from audiolm_lib.training.schedule import due


def run_loop(*, step: Callable[[], Any], periodic: Callable[[int, Any, Any], bool], checkpoint: Callable[[], Any],
             current: Callable[[], int], stop: int, total: int, checkpoint_every: int | None,
             budget_minutes: float | None, dist, desc: str, progress: bool) -> int:
    """Run ``step()`` until ``current()`` reaches ``stop`` or ``budget_minutes`` of wall clock pass; returns the step.

    After each step: ``periodic(step_number, step_result, bar)`` (logs, validation, samples; returns True to stop,
    the same on every rank), then ``checkpoint()`` every ``checkpoint_every`` steps (``None``: never), at ``stop``,
    and whenever the loop stops early. ``total``: the run's full length, for the progress bar.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=current(), desc=desc, unit="step", disable=not (progress and dist.is_main),
               dynamic_ncols=True)
    started = time.monotonic()
    budget = None if budget_minutes is None else 60.0 * budget_minutes
    try:
        while current() < stop:
            result = step()
            number = current()
            finished = periodic(number, result, bar)
            out_of_time = any_rank(budget is not None and time.monotonic() - started >= budget, dist)
            if due(number, checkpoint_every, stop) or out_of_time or finished:
                checkpoint()
            bar.update(1)
            if out_of_time or finished:
                break
    finally:
        bar.close()
    return current()
