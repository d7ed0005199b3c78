"""bench/_timing.py: the warm-up + median timer and RSS readers the bench parts share."""
import importlib.util
import sys
import types
from pathlib import Path

import pytest

TIMING = Path(__file__).resolve().parents[1] / "bench" / "_timing.py"


@pytest.fixture(scope="module")
def timing():
    spec = importlib.util.spec_from_file_location("bench_timing_under_test", TIMING)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_median_seconds_warms_up_once_then_times_each_repeat(timing, monkeypatch):
    calls, syncs = [], []
    clock = iter([0.0, 1.0, 10.0, 13.0, 20.0, 22.0])  # wall times: 1, 3, 2 -> median 2
    fake_time = types.SimpleNamespace(perf_counter=lambda: next(clock), process_time=timing.time.process_time)
    monkeypatch.setattr(timing, "time", fake_time)  # only this module's clock, not the process-wide one
    cpu_seconds = {}
    median = timing.median_seconds(lambda: calls.append(1), 3, sync=lambda: syncs.append(1),
                                   cpu_seconds=cpu_seconds, name="row")
    assert median == 2.0
    assert len(calls) == 4  # warm-up + 3 timed
    assert len(syncs) == 6  # before and after each timed call
    assert set(cpu_seconds) == {"row"} and cpu_seconds["row"] >= 0.0


def test_timed_runs_without_warmup(timing):
    calls = []
    times, cpu_times = timing.timed_runs(lambda: calls.append(1), 2, warmup=False)
    assert len(calls) == 2 and len(times) == len(cpu_times) == 2 and min(times) >= 0.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/status is Linux-only")
def test_rss_readers_on_linux(timing):
    now, peak = timing.rss_mb(), timing.rss_mb("VmHWM")
    assert 1.0 < now <= peak + 1e-6
    assert timing.rss_mb("NoSuchField") is None
    assert timing.process_peak_rss_mb() >= peak - 1.0
    if timing.reset_peak_rss():
        assert timing.rss_mb("VmHWM") <= peak
