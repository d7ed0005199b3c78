import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

pytest_plugins = ("pytester",)  # tests/test_ci_skips.py runs inner sessions

# A skip whose reason starts with this (or pytest.importorskip's "could not import") means an optional
# dependency is missing. Locally it stays a skip; under CI=true it is a failure, so CI cannot be green over a
# broken extra or a missing system package. Tests say what they need with ``@pytest.mark.requires(...)`` or, at
# run time, ``pytest.skip(MISSING + "what")`` / ``pytest.importorskip``.
MISSING = "missing optional dependency: "
_MISSING_REASONS = (MISSING, "could not import ")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "requires(*modules, programs=(), paths=()): skip (fail under CI=true) unless the Python modules import, "
        "the programs are on PATH and the paths exist",
    )


def _missing(marker) -> list[str]:
    missing = [f"module {name}" for name in marker.args if importlib.util.find_spec(name) is None]
    missing += [f"program {name}" for name in marker.kwargs.get("programs", ()) if shutil.which(name) is None]
    missing += [f"path {path}" for path in marker.kwargs.get("paths", ()) if not Path(path).exists()]
    return missing


def pytest_runtest_setup(item):
    missing = [what for marker in item.iter_markers("requires") for what in _missing(marker)]
    if missing:
        pytest.skip(MISSING + ", ".join(missing) + " (bash .ci/install)")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ``CI=true``, a skip for a missing optional dependency becomes a failure."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or os.environ.get("CI") != "true" or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if any(marker in reason for marker in _MISSING_REASONS):
        report.outcome = "failed"
        report.longrepr = f"CI=true and an optional dependency is missing, so this test fails instead of skipping: {reason}"


@pytest.fixture(scope="session", autouse=True)
def _one_thread_for_the_session():
    """Run the whole test session on one torch thread, restoring the previous count at the end.

    The tests run tiny ops whose cost is dominated by thread hand-offs: on the shared 2-core machine two
    threads made them 10-100x slower than one. Speed is measured by bench/, not by tests.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _seed_and_threads(_one_thread_for_the_session):
    torch.manual_seed(0)
    np.random.seed(0)
    if torch.get_num_threads() != 1:  # code under test (a bench part, ``--threads``) may have changed it
        torch.set_num_threads(1)
    yield


@pytest.fixture
def sine_wave():
    """A 1 s, 16 kHz mono 440 Hz tone as Tensor[1, T]."""

    def make(seconds: float = 1.0, rate: int = 16000, freq: float = 440.0) -> torch.Tensor:
        t = torch.arange(int(seconds * rate)) / rate
        return (0.5 * torch.sin(2 * torch.pi * freq * t))[None]

    return make
