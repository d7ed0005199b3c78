"""Timing and memory helpers shared by the ``bench/bench_<part>.py`` scripts.

Imported as ``from _timing import ...``: the bench directory is on ``sys.path`` both when a script runs
directly (``python bench/bench_codec.py``) and when bench/run.py loads a part.
"""
from __future__ import annotations

import resource
import statistics
import sys
import time
from typing import Callable


def timed_runs(
    fn: Callable[[], object],
    repeats: int,
    *,
    warmup: bool = True,
    sync: Callable[[], object] | None = None,
) -> tuple[list[float], list[float]]:
    """Wall-clock and process-CPU seconds of ``repeats`` calls of ``fn``, after one untimed warm-up call.

    ``sync`` (e.g. ``torch.cuda.synchronize``) runs before each start and inside the timing after each call,
    so asynchronous device work is counted. Process CPU time sums all threads and is less sensitive than wall
    time to other load on the machine.
    """
    if warmup:
        fn()  # loads models, fills caches, lets the allocator settle
    times, cpu_times = [], []
    for _ in range(repeats):
        if sync is not None:
            sync()
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        if sync is not None:
            sync()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    return times, cpu_times


def median_seconds(
    fn: Callable[[], object],
    repeats: int = 5,
    *,
    sync: Callable[[], object] | None = None,
    cpu_seconds: dict[str, float] | None = None,
    name: str | None = None,
) -> float:
    """Median wall-clock seconds of ``repeats`` calls after a warm-up; also stores the median process-CPU
    seconds in ``cpu_seconds[name]`` when both are given."""
    times, cpu_times = timed_runs(fn, repeats, sync=sync)
    if cpu_seconds is not None and name is not None:
        cpu_seconds[name] = statistics.median(cpu_times)
    return statistics.median(times)


def process_peak_rss_mb() -> float:
    """Peak resident memory of this process over its whole life, in MiB (getrusage; not resettable)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # macOS reports bytes, Linux KiB


def rss_mb(field: str = "VmRSS") -> float | None:
    """A memory field of ``/proc/self/status`` in MiB: ``VmRSS`` (now) or ``VmHWM`` (peak since the last
    :func:`reset_peak_rss`); None where there is no such file or field (not Linux)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current resident size (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False
