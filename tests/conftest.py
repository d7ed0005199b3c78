import numpy as np
import pytest
import torch


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
