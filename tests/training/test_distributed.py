import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audiolm_lib.training.distributed import (
    DistInfo,
    is_torchrun_worker,
    owned_process_group,
    setup_distributed,
    unwrap,
    wrap_ddp,
)

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_single_process_is_not_distributed(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = setup_distributed("cpu")
    assert (info.rank, info.world_size, info.enabled, info.is_main) == (0, 1, False, True)
    import torch

    model = torch.nn.Linear(2, 2)
    assert wrap_ddp(model, DistInfo()) is model and unwrap(model) is model


def test_a_training_call_tears_down_only_the_process_group_it_started(tmp_path):
    import torch.distributed as dist

    def start(name):
        dist.init_process_group("gloo", init_method=f"file://{tmp_path / name}", rank=0, world_size=1)

    with owned_process_group():  # as train_stage / train_codec: the trainer starts the group
        start("a")
        assert dist.is_initialized()
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="boom"):
        with owned_process_group():
            start("b")
            raise RuntimeError("boom")
    assert not dist.is_initialized()  # after an error too, at once (no barrier)
    start("c")  # the caller's own group stays the caller's
    try:
        with owned_process_group():
            pass
        assert dist.is_initialized()
    finally:
        dist.destroy_process_group()


def test_a_torchrun_worker_exits_at_once_with_its_output_flushed(monkeypatch):
    code = ("import sys; from audiolm_lib.training.distributed import exit_worker; "
            "print('saved', end=''); sys.stderr.write('note'); exit_worker(3); print('never')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(Path.cwd())))
    assert (done.returncode, done.stdout, done.stderr) == (3, "saved", "note")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert is_torchrun_worker()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not is_torchrun_worker()


@pytest.mark.slow
def test_two_cpu_processes_train_identical_weights(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, [str(Path.cwd()), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(WORKER), str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert (rank0["world_size"], rank1["world_size"]) == (2, 2)
    assert rank0["initial"] == rank1["initial"]
    assert rank0["final"] == rank1["final"] != rank0["initial"]  # gradients were averaged across ranks
    assert rank0["ema"] == rank1["ema"]
    assert set(rank0["items"]).isdisjoint(rank1["items"])  # each rank trains on its own items
    # stopping at step 2 and resuming under DDP gives the same weights and loss curve
    assert rank0["resumed_final"] == rank1["resumed_final"] == rank0["final"]
    assert rank0["log_resumed"] == rank0["log_full"] and [s for s, _ in rank0["log_full"]] == [1, 2, 3, 4]
    assert (tmp_path / "full" / "model" / "model.safetensors").exists()
