import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    """Tiny convolutions are far faster on one thread than with two threads on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
