"""Training state that resumes exactly: one checkpoint per step, written atomically, read without pickle.

The state holds model(s), optimizer(s), scheduler(s), EMA weights, the step, the data position and every
RNG state (python, numpy, torch CPU/CUDA), so ``--resume`` continues the same loss curve. It is stored as
``step_XXXXXXXX.safetensors`` (:mod:`audiolm_lib.training.state_file`: tensors + a JSON header). Files of
older versions (``step_XXXXXXXX.pt``) are still read, with ``torch.load(weights_only=True)``.

Resuming from a folder takes the newest checkpoint that reads; a damaged newer one (a write cut short by a
full disk) is moved aside as ``*.corrupt`` with a warning naming it. Stale temp files of killed writes are
removed.
"""
from __future__ import annotations

import os
import random
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiolm_lib.atomic import remove_stale_temps
from audiolm_lib.serialization import CheckpointError
from audiolm_lib.training.state_file import load_state_file, save_state_file

CHECKPOINT_SUFFIX = ".safetensors"
LEGACY_SUFFIX = ".pt"
CHECKPOINT_PATTERN = re.compile(r"^step_(\d+)\.(safetensors|pt)$")
CORRUPT_SUFFIX = ".corrupt"


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
    python = state["python"]  # (version, tuple of ints, gauss_next): lists after a round trip through JSON
    random.setstate((python[0], tuple(python[1]), python[2]))
    np.random.set_state(tuple(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_path(directory: str | os.PathLike, step: int) -> Path:
    return Path(directory) / f"step_{step:08d}{CHECKPOINT_SUFFIX}"


def save_training_state(directory: str | os.PathLike, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``directory/step_{step}.safetensors`` atomically (RNG states added); keep the ``keep`` newest."""
    directory = Path(directory)
    remove_stale_temps(directory)
    payload = dict(state, step=step, rng=rng_state())
    path = save_state_file(payload, checkpoint_path(directory, step))
    legacy = path.with_suffix(LEGACY_SUFFIX)
    if legacy.exists():  # the same step from an older version: the new file replaces it
        legacy.unlink()
    for old in list_checkpoints(directory)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Training checkpoints in ``directory``, oldest first (by step)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), m.group(2) == "safetensors", p)
             for p in directory.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name))]
    return [p for *_, p in sorted(found)]


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    found = list_checkpoints(directory)
    return found[-1] if found else None


def load_training_state(path: str | os.PathLike, restore_rng: bool = True) -> dict[str, Any]:
    """Read a training checkpoint: a file, or a folder whose newest readable checkpoint is taken.

    From a folder, a newer checkpoint that cannot be read (truncated or corrupt) is renamed ``*.corrupt``
    with a warning, and the next older one is tried; stale temp files of killed writes are removed.
    """
    path = Path(path)
    if not path.is_dir():
        state = _read(path)
    else:
        for stale in remove_stale_temps(path):
            warnings.warn(f"removed {stale}: a partial checkpoint of an interrupted write", stacklevel=2)
        candidates = list_checkpoints(path)
        if not candidates:
            raise CheckpointError(f"no training checkpoint (step_*.safetensors) in {path}")
        state, failures = None, []
        for candidate in reversed(candidates):
            try:
                state = _read(candidate)
                break
            except CheckpointError as exc:
                failures.append(str(exc))
                aside = candidate.with_name(candidate.name + CORRUPT_SUFFIX)
                try:
                    candidate.rename(aside)
                    moved = f"; moved aside to {aside.name}"
                except OSError:
                    moved = ""
                warnings.warn(f"skipping training checkpoint {candidate}: {exc}{moved}; "
                              "resuming from an older one", stacklevel=2)
        if state is None:
            raise CheckpointError(f"no readable training checkpoint in {path}: " + " | ".join(failures))
    if restore_rng and "rng" in state:
        set_rng_state(state["rng"])
    return state


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise CheckpointError(f"training checkpoint not found: {path}")
    if path.suffix == LEGACY_SUFFIX:
        state = _read_legacy(path)
    else:
        state = load_state_file(path)
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{path} is not an audiolm_lib training checkpoint")
    return state


def _read_legacy(path: Path) -> Any:
    """A ``torch.save`` training checkpoint of an older version: tensors, plain containers and numpy RNG
    arrays only (``weights_only=True`` with numpy's array reconstruction allowed); anything else is refused."""
    from audiolm_lib.safe_load import load_torch_weights

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    # numpy 1 and numpy 2 name the array reconstruction differently in the pickle
    allow = [(_reconstruct, "numpy.core.multiarray._reconstruct"), (_reconstruct, "numpy._core.multiarray._reconstruct"),
             np.ndarray, np.dtype, type(np.dtype(np.uint32))]
    return load_torch_weights(path, "training checkpoint", allow=allow)
