"""Quality-benchmark runs of one model on several sampling seeds, averaged into one run.

A continuation's measures depend on the draw: on the held-out speech sets the shipped model's DNSMOS ratio read
0.74x-0.94x on LibriVox over five seeds (BENCHMARKS.md, issue 20's twenty-third pass), so a target within about 0.1
of its bound cannot be settled by one seed. :func:`mean_over_seeds` averages every number in the runs' tables
(rows and per-level rows; the per-item lists, which the seeds' own runs keep, are left out).
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

IDENTITY_FIELDS = ("name", "set", "rung", "level", "domain")  # must agree for rows to be averaged
# item i of a run with seed s samples with seed s * ITEM_STREAM_STRIDE + i: no two (seed, item) pairs share a stream
# below a million items. Before the twenty-sixth pass it was s + i, so item i of seed s drew the random numbers of
# item i + 1 of seed s - 1: seeds 0-4 of the nine held-out speech items used 13 streams for 45 continuations, their
# means moved together, and their spread understated the draw's (BENCHMARKS.md, issue 20's twenty-sixth pass).
# Seed 0 is unchanged (i), so every single-seed run committed before reproduces.
ITEM_STREAM_STRIDE = 1_000_003


def item_seed(seed: int, index: int) -> int:
    """The sampling seed of item ``index`` (0-based) in a benchmark run with seed ``seed`` (see ITEM_STREAM_STRIDE)."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and item index must be >= 0, got {seed} and {index}")
    return seed * ITEM_STREAM_STRIDE + index


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _mean(values: list, path: str):
    if all(isinstance(v, Mapping) for v in values):
        # the per-item lists ("items": [...]) stay in each seed's run; a row's item count ("items": 3) is kept
        keys = [key for key in values[0] if all(key in v for v in values)
                and not (key == "items" and isinstance(values[0][key], list))]
        for key in IDENTITY_FIELDS:
            if key in keys and len({repr(v[key]) for v in values}) > 1:
                raise ValueError(f"runs do not line up at {path}.{key}: {[v[key] for v in values]}")
        return {key: _mean([v[key] for v in values], f"{path}.{key}") for key in keys}
    if all(isinstance(v, list) for v in values):
        if len({len(v) for v in values}) > 1:
            raise ValueError(f"runs do not line up at {path}: lists of {sorted({len(v) for v in values})} entries")
        return [_mean(list(parts), f"{path}[{index}]") for index, parts in enumerate(zip(*values))]
    numbers = [v for v in values if _is_number(v)]
    if numbers and len(numbers) == len([v for v in values if v is not None]):  # numbers, some maybe missing
        # one value on every seed (a count, a setting) is kept as it is, an int stays an int
        return numbers[0] if len(set(numbers)) == 1 else statistics.fmean(numbers)
    return values[0]


def mean_over_seeds(runs: Sequence[Mapping], seeds: Sequence[int]) -> dict:
    """``runs``: one :func:`~audiolm_lib.eval.suite.run_suite` result per seed, of one model (``seeds`` in the same
    order) -> one result whose every number is the mean over the seeds (``config["seed"]`` the list of seeds)."""
    if not runs or len(runs) != len(seeds):
        raise ValueError(f"need one run per seed, got {len(runs)} runs for seeds {list(seeds)}")
    mean = _mean([{key: value for key, value in run.items() if key != "config"} for run in runs], "run")
    return {**mean, "config": {**runs[0].get("config", {}), "seed": list(seeds)}}


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` or ``"0,2,5"`` -> the seeds; refused (ValueError naming it) if empty, negative or repeated."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            first, _, last = part.strip().partition("-")
            seeds += list(range(int(first), int(last) + 1)) if last else [int(first)]
    except ValueError:
        raise ValueError(f"seeds must read like 0-4 or 0,2,5, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct whole numbers >= 0, got {text!r}")
    return seeds
