import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def sine_wave():
    """A 1 s, 16 kHz mono 440 Hz tone as Tensor[1, T]."""

    def make(seconds: float = 1.0, rate: int = 16000, freq: float = 440.0) -> torch.Tensor:
        t = torch.arange(int(seconds * rate)) / rate
        return (0.5 * torch.sin(2 * torch.pi * freq * t))[None]

    return make
