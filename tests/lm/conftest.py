import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    # tiny matrices: on a shared 2-core machine thread hand-offs dominate, so run these tests on one thread
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
