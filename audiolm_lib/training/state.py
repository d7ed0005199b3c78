"""Training state that resumes exactly: one plain checkpoint dict, written atomically.

The dict holds model(s), optimizer(s), scheduler(s), EMA weights, the step, the data position and every
RNG state (python, numpy, torch CPU/CUDA), so ``--resume`` continues the same loss curve.
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiolm_lib.serialization import CheckpointError, atomic_torch_save

CHECKPOINT_PATTERN = re.compile(r"^step_(\d+)\.pt$")


def rng_state() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_state(directory: str | os.PathLike, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``directory/step_{step}.pt`` atomically (RNG states added) and prune all but ``keep`` newest."""
    directory = Path(directory)
    payload = dict(state, step=step, rng=rng_state())
    path = atomic_torch_save(payload, directory / f"step_{step:08d}.pt")
    for old in list_checkpoints(directory)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    found = list_checkpoints(directory)
    return found[-1] if found else None


def load_training_state(path: str | os.PathLike, restore_rng: bool = True) -> dict[str, Any]:
    """Read a training checkpoint (a file, or a directory whose newest ``step_*.pt`` is taken)."""
    path = Path(path)
    if path.is_dir():
        newest = latest_checkpoint(path)
        if newest is None:
            raise CheckpointError(f"no training checkpoint (step_*.pt) in {path}")
        path = newest
    if not path.exists():
        raise CheckpointError(f"training checkpoint not found: {path}")
    try:
        # our own files hold numpy RNG state and plain containers; weights_only=False is needed for them
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointError(f"cannot read training checkpoint {path} (truncated or corrupt?): {exc}") from exc
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{path} is not an audiolm_lib training checkpoint")
    if restore_rng and "rng" in state:
        set_rng_state(state["rng"])
    return state
