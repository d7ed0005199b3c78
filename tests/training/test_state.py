import random

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
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000002.pt", "step_00000003.pt"]
    expected = (random.random(), np.random.rand(), torch.rand(3))
    state = load_training_state(tmp_path)
    assert state["step"] == 3 and torch.equal(state["weights"], torch.ones(2) * 3)
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(3), expected[2])


def test_bad_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no training checkpoint"):
        load_training_state(tmp_path)
    bad = tmp_path / "step_00000001.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_training_state(bad)
    assert latest_checkpoint(tmp_path) == bad


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


def test_metrics_logger_appends(tmp_path):
    log = MetricsLogger(tmp_path, tensorboard=False)
    log.log(1, loss=2.0)
    log.log(2, split="val", loss=1.5)
    rows = read_metrics(tmp_path)
    assert [(r["step"], r["split"], r["loss"]) for r in rows] == [(1, "train", 2.0), (2, "val", 1.5)]
    assert (tmp_path / "metrics_train.csv").read_text().splitlines()[0].startswith("step,split,time,loss")
