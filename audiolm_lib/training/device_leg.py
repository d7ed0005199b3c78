"""One training leg on a lent accelerator machine, in the limits of the project's ``device`` tool.

A lease is short (15 minutes of device time, 10 per command) and narrow: the working tree that travels is at most
64 MiB, what comes back is at most 8 files of 16 MiB, two folders down, and the machine has no audio packages
(no ``soundfile``) and reaches no network. So a leg travels as a *carry* folder made here
(``checkpoints/make_checkpoints.py device-pack``):

- ``cache.tar.xz``: the leg's token cache (codes and semantic ids, never audio), xz-compressed;
- ``start_model/``: the model folder the leg starts from (its ``init_from``);
- ``leg.json``: the leg's :class:`~audiolm_lib.training.config.StageTrainConfig` fields, resolved as
  ``make_checkpoints.py stage-tune`` resolves them, with ``init_from`` relative to the carry folder.

There (``checkpoints/device/leg.py``) :func:`run_leg` unpacks the cache, times a few steps to fit the leg's cosine
schedule into the minutes it is given (:func:`fitted_steps`), trains, and writes to the out folder the exported
(best EMA) model split into parts under the return limit (:func:`split_file`), the metrics and a ``leg_summary.json``.
Back here ``make_checkpoints.py device-import`` joins the parts (:func:`join_parts`, checked by SHA-256) into the
leg's folder, where ``assemble`` and the validation benches find it like any leg trained on CPU.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import time
from pathlib import Path

from audiolm_lib.atomic import atomic_write, atomic_write_text
from audiolm_lib.training.metrics import read_metrics

CACHE_ARCHIVE = "cache.tar.xz"
START_MODEL = "start_model"
LEG_CONFIG = "leg.json"
SUMMARY = "leg_summary.json"
PART_BYTES = 15 * 2 ** 20  # under the tool's 16 MiB a returned file
RETURN_FILES = 8  # the tool returns at most 8 files


def pack_cache(cache_dir: Path, archive: Path, preset: int = 6) -> Path:
    """``cache_dir`` (a complete token cache: ``header.json``, ``build.json``, ``shards/``) as an xz tar at
    ``archive``; member names are relative to the cache folder. xz at preset 6 keeps 0.54 of the speech leg's cache
    (63 -> 34 MiB: uint16 arrays of 10-bit codes), which the 64 MiB limit needs."""
    cache_dir = Path(cache_dir)
    header = cache_dir / "header.json"
    if not header.is_file() or not json.loads(header.read_text(encoding="utf-8")).get("complete"):
        raise ValueError(f"{cache_dir} is not a complete token cache (no header.json marked complete)")

    def write(tmp: str) -> None:
        with tarfile.open(tmp, "w:xz", preset=preset) as tar:
            for path in sorted(cache_dir.rglob("*")):
                if path.is_file():
                    tar.add(path, arcname=str(path.relative_to(cache_dir)), recursive=False)

    return atomic_write(archive, write)


def unpack_cache(archive: Path, out_dir: Path) -> Path:
    """The token cache of :func:`pack_cache` under ``out_dir``; members must be regular files inside it (the
    ``data`` extraction filter refuses links, absolute paths and ``..``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                raise ValueError(f"{archive}: member {member.name!r} is not a regular file")
        tar.extractall(out_dir, filter="data")
    return out_dir


def fitted_steps(seconds_per_step: float, minutes: float, overhead_seconds: float, most: int, least: int = 100) -> int:
    """The steps of a schedule that end within ``minutes`` of wall clock at ``seconds_per_step``, after
    ``overhead_seconds`` (validations, export, start); at most the recipe's ``most``, at least ``least``."""
    if seconds_per_step <= 0 or minutes <= 0:
        raise ValueError(f"need seconds_per_step > 0 and minutes > 0, got {seconds_per_step}, {minutes}")
    steps = int((60.0 * minutes - overhead_seconds) / seconds_per_step)
    return max(min(least, int(most)), min(int(most), steps))


def seconds_per_step(run_dir: Path) -> float:
    """Wall seconds per step between the first and the last logged training rows of a run's metrics
    (:func:`~audiolm_lib.training.metrics.read_metrics`; the first row holds the start-up, so it only opens the
    interval)."""
    rows = [row for row in read_metrics(run_dir) if row.get("split") == "train"]
    if len(rows) < 2:
        raise ValueError(f"{run_dir}: need two logged training steps to time them, got {len(rows)}")
    first, last = rows[0], rows[-1]
    return (float(last["time"]) - float(first["time"])) / (int(last["step"]) - int(first["step"]))


def sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def split_file(path: Path, out_dir: Path, part_bytes: int = PART_BYTES) -> Path:
    """``path`` cut into ``<name>.partNN`` files of at most ``part_bytes`` in ``out_dir``, with ``<name>.parts.json``
    (the parts in order, the size and SHA-256 of the whole); returns that record's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    with open(path, "rb") as handle:
        for number in range(100):
            block = handle.read(part_bytes)
            if not block:
                break
            part = out_dir / f"{path.name}.part{number:02d}"
            part.write_bytes(block)
            parts.append(part.name)
        else:
            raise ValueError(f"{path} needs more than 100 parts of {part_bytes} bytes")
    record = out_dir / f"{path.name}.parts.json"
    atomic_write_text(record, json.dumps({"file": path.name, "bytes": path.stat().st_size, "sha256": sha256(path),
                                  "parts": parts}, indent=1))
    return record


def join_parts(record: Path, out_path: Path) -> Path:
    """The file that :func:`split_file` cut, from the parts beside ``record``, at ``out_path``; refused (and nothing
    left at ``out_path``) where a part is missing or the size or SHA-256 differs."""
    meta = json.loads(Path(record).read_text(encoding="utf-8"))

    def write(tmp: str) -> None:  # checked before the rename: a refused join leaves nothing at out_path
        with open(tmp, "wb") as handle:
            for name in meta["parts"]:
                part = record.parent / Path(name).name
                if not part.is_file():
                    raise FileNotFoundError(f"{part} is missing: the returned model is incomplete")
                handle.write(part.read_bytes())
        if Path(tmp).stat().st_size != meta["bytes"] or sha256(Path(tmp)) != meta["sha256"]:
            raise ValueError(f"{record}: the joined parts differ from the model that was split (size or SHA-256)")

    return atomic_write(out_path, write)


def run_leg(carry: Path, out: Path, minutes: float, work: Path, probe_steps: int = 60,
            overhead_seconds: float = 45.0) -> dict:
    """Train the carried leg for about ``minutes`` of wall clock; results in ``out`` (see the module docstring).

    ``work`` holds the unpacked cache and the run's folder (a scratch disk there). A probe of ``probe_steps``
    steps (logged every 10) times a step on this machine; the leg's ``steps`` become what fits in what is left
    of ``minutes`` (never more than the recipe's), so its cosine schedule ends inside the lease."""
    import torch

    from audiolm_lib.serialization import config_from_dict
    from audiolm_lib.training.config import StageTrainConfig
    from audiolm_lib.training.trainer import train_stage

    if probe_steps < 20:
        raise ValueError(f"probe_steps must be at least 20 (two logged rows to time), got {probe_steps}")
    started = time.monotonic()
    carry, out, work = Path(carry), Path(out), Path(work)
    fields = json.loads((carry / LEG_CONFIG).read_text(encoding="utf-8"))
    fields["init_from"] = str(carry / fields["init_from"])
    cache = unpack_cache(carry / CACHE_ARCHIVE, work / "cache")
    most = int(fields["steps"])
    probe = config_from_dict(StageTrainConfig, {**fields, "log_every": 10, "eval_every": None, "sample_every": None,
                                                "checkpoint_every": None, "progress": False, "tensorboard": False},
                             source="device leg probe")
    train_stage(probe, cache, work / "probe", max_steps=probe_steps)
    per_step = seconds_per_step(work / "probe")
    left = minutes - (time.monotonic() - started) / 60.0
    steps = fitted_steps(per_step, left, overhead_seconds, most)
    # a hard stop too, should the validations take longer than the probe foresaw: the export and the parts need
    # the last half minute, and a command past the tool's limit returns nothing
    fields.update(steps=steps, warmup_steps=min(int(fields.get("warmup_steps", 0)), steps // 10),
                  checkpoint_every=None, sample_every=None, progress=False, tensorboard=False,
                  budget_minutes=max(0.1, minutes - (time.monotonic() - started) / 60.0 - 0.5))
    config = config_from_dict(StageTrainConfig, fields, source="device leg")
    leg_started = time.monotonic()
    model_dir = train_stage(config, cache, work / "leg")
    if not (model_dir / "model.safetensors").is_file():
        raise RuntimeError(f"the leg ended before its first validation exported a model: give it more minutes "
                           f"(validation every {config.eval_every} steps, {config.steps} steps fitted)")
    out.mkdir(parents=True, exist_ok=True)
    split_file(model_dir / "model.safetensors", out)
    shutil.copy2(model_dir / "config.json", out / "config.json")
    for name in ("metrics_train.csv", "metrics_valid.csv"):
        if (work / "leg" / name).is_file():
            shutil.copy2(work / "leg" / name, out / name)
    logged = [row["step"] for row in read_metrics(work / "leg") if row.get("split") == "train"]
    summary = {"steps": steps, "steps_run": max(logged, default=0), "recipe_steps": most, "seconds_per_step": per_step,
               "leg_wall_seconds": round(time.monotonic() - leg_started, 1),
               "total_wall_seconds": round(time.monotonic() - started, 1),
               "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
               "torch": torch.__version__, "config": config.to_dict()}
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=1))
    returned = [path for path in out.iterdir() if path.is_file()]
    if len(returned) > RETURN_FILES:
        raise ValueError(f"{out} holds {len(returned)} files; the device tool returns at most {RETURN_FILES}")
    return summary


def pack_leg(fields: dict, cache_dir: Path, out: Path) -> int:
    """A carry folder at ``out`` (empty or new) for a leg of ``fields`` (StageTrainConfig fields whose ``init_from``
    is the start model folder) on the token cache ``cache_dir``; returns its size in bytes."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; pack a leg into an empty folder")
    if not fields.get("init_from") or not (Path(fields["init_from"]) / "config.json").is_file():
        raise FileNotFoundError(f"the leg's start model {fields.get('init_from')!r} is not a model folder")
    shutil.copytree(fields["init_from"], out / START_MODEL)
    pack_cache(cache_dir, out / CACHE_ARCHIVE)
    leg = {**fields, "init_from": START_MODEL, "budget_minutes": None}
    atomic_write_text(out / LEG_CONFIG, json.dumps(leg, indent=1))
    return sum(path.stat().st_size for path in out.rglob("*") if path.is_file())


def import_leg(returned: Path, leg_dir: Path) -> Path:
    """The model that :func:`run_leg` returned into ``returned`` joined into ``leg_dir / "model"`` (which must not
    exist yet), with the leg's metrics and summary beside it; returns the model folder."""
    returned, leg_dir = Path(returned), Path(leg_dir)
    record = returned / "model.safetensors.parts.json"
    if not record.is_file() or not (returned / "config.json").is_file():
        raise FileNotFoundError(f"{returned} holds no returned model (model.safetensors.parts.json, config.json)")
    model_dir = leg_dir / "model"
    if (model_dir / "config.json").exists() or (model_dir / "model.safetensors").exists():
        raise FileExistsError(f"{model_dir} exists already; move it away first")
    join_parts(record, model_dir / "model.safetensors")
    shutil.copy2(returned / "config.json", model_dir / "config.json")
    for name in ("metrics_train.csv", "metrics_valid.csv", SUMMARY):
        if (returned / name).is_file():
            shutil.copy2(returned / name, leg_dir / name)
    return model_dir
