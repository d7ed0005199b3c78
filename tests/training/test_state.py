import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from audiolm_lib.serialization import CheckpointError
from audiolm_lib.training.ema import EMA
from audiolm_lib.training.metrics import MetricsLogger, read_metrics
from audiolm_lib.training.schedule import warmup_cosine
from audiolm_lib.training.state import latest_checkpoint, list_checkpoints, load_training_state, save_training_state


def test_checkpoint_restores_rng_and_prunes(tmp_path):
    for step in (1, 2, 3):
        save_training_state(tmp_path, step, {"weights": torch.ones(2) * step}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000002.safetensors", "step_00000003.safetensors"]
    expected = (random.random(), np.random.rand(), torch.rand(3))
    state = load_training_state(tmp_path)
    assert state["step"] == 3 and torch.equal(state["weights"], torch.ones(2) * 3)
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(3), expected[2])


def test_bad_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no training checkpoint"):
        load_training_state(tmp_path)
    bad = tmp_path / "step_00000001.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_training_state(bad)
    assert latest_checkpoint(tmp_path) == bad


def test_training_state_round_trips_an_optimizer_without_pickle(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 3))
    model[1].weight = torch.nn.Parameter(model[0].weight.t())  # a view: stored as its own tensor
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
    model(torch.randn(2, 3)).sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "extra": {1: (2.5, None),
             "inf": float("inf"), "tags": ["a", True]}, "array": np.arange(5, dtype=np.uint32)}
    path = save_training_state(tmp_path, 7, state)
    assert path.name == "step_00000007.safetensors" and b"pickle" not in path.read_bytes()[:64]
    loaded = load_training_state(path, restore_rng=False)
    assert loaded["step"] == 7 and loaded["extra"] == {1: (2.5, None), "inf": float("inf"), "tags": ["a", True]}
    assert loaded["array"].dtype == np.uint32 and loaded["array"].tolist() == [0, 1, 2, 3, 4]
    fresh = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
    fresh.load_state_dict(loaded["optimizer"])
    assert fresh.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]
    for key, value in optimizer.state_dict()["state"][0].items():
        assert torch.equal(fresh.state_dict()["state"][0][key], value)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded["model"][key], value)


def test_truncated_newest_checkpoint_falls_back_and_stale_temps_go(tmp_path):
    for step in (10, 20):
        save_training_state(tmp_path, step, {"weights": torch.full((64,), float(step))})
    newest = list_checkpoints(tmp_path)[-1]
    newest.write_bytes(newest.read_bytes()[:-40])  # cut short by a full disk
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".~audiolm.{int(dead.stdout)}.abc123.step_00000030.safetensors.tmp"  # a killed writer's partial
    stale.write_bytes(b"partial")
    live = tmp_path / f".~audiolm.{os.getpid()}.abc123.step_00000040.safetensors.tmp"  # a write in progress: kept
    live.write_bytes(b"in progress")
    with pytest.warns(UserWarning) as warned:
        state = load_training_state(tmp_path, restore_rng=False)
    assert state["step"] == 10 and torch.equal(state["weights"], torch.full((64,), 10.0))
    text = " ".join(str(w.message) for w in warned)
    assert f"skipping training checkpoint {newest}" in text and "truncated or corrupt" in text
    assert not newest.exists() and (tmp_path / (newest.name + ".corrupt")).exists()
    assert not stale.exists() and live.exists()
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000010.safetensors"]


def test_legacy_pickled_checkpoints_load_safely_or_are_refused(tmp_path):
    legacy = {"step": 4, "weights": torch.ones(3), "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                                                         "torch": torch.get_rng_state()}}
    torch.save(legacy, tmp_path / "step_00000004.pt")
    expected = (random.random(), np.random.rand())
    assert load_training_state(tmp_path)["step"] == 4
    assert (random.random(), np.random.rand()) == expected
    marker = tmp_path / "marker"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"step": 5, "x": Payload()}, tmp_path / "step_00000005.pt")
    with pytest.raises(CheckpointError, match=r"refusing training checkpoint .*step_00000005\.pt.*GLOBAL posix\.system"):
        load_training_state(tmp_path / "step_00000005.pt")
    assert not marker.exists()


def test_ema_tracks_average():
    model = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = EMA(model, decay=0.5, warmup_steps=0)
    model.weight.data.fill_(1.0)
    ema.update(model)
    assert torch.allclose(ema.shadow.weight, torch.full((1, 2), 0.5))
    ema.update(model)
    assert torch.allclose(ema.shadow.weight, torch.full((1, 2), 0.75))


def test_warmup_cosine_shape():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = warmup_cosine(opt, warmup_steps=4, total_steps=12, min_ratio=0.1)
    lrs = []
    for _ in range(14):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.25) and lrs[3] == pytest.approx(1.0)
    assert lrs[12] == pytest.approx(0.1) and lrs[13] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[3:], lrs[4:]))


def test_a_warmup_longer_than_half_the_run_is_scaled_with_a_warning():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.warns(UserWarning, match="1000-step learning-rate warm-up is more than half of this 50-step run"):
        sched = warmup_cosine(opt, warmup_steps=1000, total_steps=50)
    lrs = []
    for _ in range(50):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[4] == pytest.approx(1.0) and max(lrs) == pytest.approx(1.0)  # warmed up over 5 steps
    assert lrs[-1] < 0.2  # then decayed, not still warming up at 1.5 % of the LR


def test_metrics_logger_appends(tmp_path):
    log = MetricsLogger(tmp_path, tensorboard=False)
    log.log(1, loss=2.0)
    log.log(2, split="val", loss=1.5)
    rows = read_metrics(tmp_path)
    assert [(r["step"], r["split"], r["loss"]) for r in rows] == [(1, "train", 2.0), (2, "val", 1.5)]
    assert (tmp_path / "metrics_train.csv").read_text().splitlines()[0].startswith("step,split,time,loss")


def test_metrics_csv_columns_stay_aligned_when_rows_differ(tmp_path):
    import csv

    log = MetricsLogger(tmp_path, tensorboard=False)
    log.log(1, split="valid", loss=2.0, ema_loss=1.9)
    log.log(2, split="valid", loss=1.5)  # a missing key leaves its cell empty
    log.log(3, split="valid", ema_loss=1.2, mel=0.7)  # a new key widens the header, old rows keep their values
    with open(tmp_path / "metrics_valid.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["step", "split", "time", "loss", "ema_loss", "mel"]
    assert [(r["step"], r["loss"], r["ema_loss"], r["mel"]) for r in rows] == [
        ("1", "2.0", "1.9", ""), ("2", "1.5", "", ""), ("3", "", "1.2", "0.7")]
    # reopening (a resumed run) keeps appending under the widened header
    MetricsLogger(tmp_path, tensorboard=False).log(4, split="valid", loss=1.0, mel=0.5)
    with open(tmp_path / "metrics_valid.csv", newline="") as handle:
        last = list(csv.DictReader(handle))[-1]
    assert (last["step"], last["loss"], last["ema_loss"], last["mel"]) == ("4", "1.0", "", "0.5")


def test_metrics_reader_skips_a_torn_last_line_and_logger_repairs_it(tmp_path):
    log = MetricsLogger(tmp_path, tensorboard=False)
    log.log(1, loss=2.0)
    log.log(2, loss=1.0)
    with (tmp_path / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 3, "split": "tr')
    with pytest.warns(UserWarning, match=r"metrics\.jsonl: skipping torn last line 3"):
        assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]
    with pytest.warns(UserWarning, match=r"metrics\.jsonl: removing a torn last line"):
        log = MetricsLogger(tmp_path, tensorboard=False)
    log.log(3, loss=0.5)
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3]
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\nnot json\n{"step": 2}\n')
    with pytest.raises(ValueError, match=r"metrics\.jsonl, line 2"):
        read_metrics(tmp_path)
