"""The configuration of one stage's training run, loadable from JSON/YAML with ``key=value`` overrides."""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from audiolm_lib.config import apply_override, parse_override, read_config_file  # noqa: F401  (parse_override re-exported)
from audiolm_lib.serialization import config_from_dict, config_to_dict, renamed_fields
from audiolm_lib.training.stages import check_prompt_elsewhere, stage_kind

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class StageTrainConfig:
    """Everything a stage run needs besides the data and the output directory.

    ``model`` holds fields of the stage's model config (``SemanticLMConfig``, ``CoarseLMConfig``,
    ``FineLMConfig`` or, for the parallel acoustic model, ``ParallelAcousticLMConfig``; nested ``transformer``
    included); fields left out take the token cache's values
    (vocabulary sizes, token rates, quantizer counts) or the model config's defaults.
    ``stage``: a kind of :mod:`audiolm_lib.training.stages`.
    ``crop_seconds`` None means the papers' crops: 30 s semantic, 10 s coarse, 3 s fine, 30 s parallel (SoundStorm).
    ``precision`` "auto" is bf16 autocast on CUDA devices that support it and fp32 elsewhere.
    ``early_stopping_patience``: stop after this many validations in a row without a better EMA validation loss
    (``None``: never; 0, the former "never", is read as ``None``); the exported ``model/`` is then the best EMA weights seen, not the last.
    ``budget_minutes``: stop (with a checkpoint) after this much wall-clock training in this run.
    ``prompt_elsewhere`` (parallel stage): share of examples whose acoustic prompt is another segment of the same
    item (:mod:`audiolm_lib.training.prompt_crops`); 0 keeps every crop one stretch. ``prompt_same_speaker``
    (parallel stage): share of examples whose acoustic prompt is a stretch of another training item of the same
    speaker (the token cache's ``speaker`` field), so the voice must be carried across recordings; the two shares
    sum to at most 1. ``prompt_only_tag`` (with ``prompt_same_speaker``): items whose id holds it are only ever
    such prompts, never targets (:class:`~audiolm_lib.training.crops.CropSpec`).
    ``init_from``: a trained model folder of the same stage kind and shape whose weights start the run (fine-tuning
    on new data; ``model`` fields such as ``prompt_dropout`` still apply to the training).
    ``log_every`` / ``eval_every`` / ``sample_every`` / ``checkpoint_every``: steps between logs, validations, preview
    samples and checkpoints; ``None``: only at the end of the run. Old names (``total_steps``, ``log_interval``,
    ``eval_interval``, ``sample_interval``, ``checkpoint_interval``) are still read from files and overrides.
    """

    RENAMED_FIELDS: ClassVar[dict[str, str]] = {
        "total_steps": "steps", "log_interval": "log_every", "eval_interval": "eval_every",
        "sample_interval": "sample_every", "checkpoint_interval": "checkpoint_every"}

    stage: str = "semantic"
    model: dict = field(default_factory=dict)
    # data
    crop_seconds: float | None = None
    min_crop_seconds: float = 1.0
    prompt_elsewhere: float = 0.0
    prompt_same_speaker: float = 0.0
    prompt_only_tag: str = ""
    init_from: str | None = None
    batch_size: int = 8
    grad_accumulation: int = 1
    # optimisation
    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.01
    warmup_steps: int = 1000
    steps: int = 100_000
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    ema_warmup_steps: int = 100
    early_stopping_patience: int | None = None
    budget_minutes: float | None = None
    # bookkeeping
    log_every: int = 10
    eval_every: int | None = 1000
    eval_batches: int = 4
    sample_every: int | None = 5000
    sample_seconds: float = 1.0
    checkpoint_every: int | None = 1000
    keep_checkpoints: int = 2
    precision: str = "auto"
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    tensorboard: bool = True

    def __post_init__(self):
        stage_kind(self.stage)  # a registered kind, or a ValueError naming them
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not isinstance(self.model, dict):
            raise ValueError(f"model must be a mapping of model-config fields, got {type(self.model).__name__}")
        positive = ("batch_size", "grad_accumulation", "steps", "log_every", "eval_every", "sample_every",
                    "checkpoint_every")
        for name in positive:
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise ValueError(f"{name} must be >= 1{' (or None: only at the end)' if 'every' in name else ''}, "
                                 f"got {value}")
        if self.crop_seconds is not None and self.crop_seconds <= 0:
            raise ValueError(f"crop_seconds must be positive, got {self.crop_seconds}")
        if self.lr <= 0 or self.grad_clip < 0 or self.warmup_steps < 0:
            raise ValueError(f"need lr > 0, grad_clip >= 0, warmup_steps >= 0 (got {self.lr}, {self.grad_clip}, {self.warmup_steps})")
        if self.early_stopping_patience == 0:
            self.early_stopping_patience = None
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise ValueError(f"early_stopping_patience must be >= 1 (or None: never), got {self.early_stopping_patience}")
        if self.budget_minutes is not None and self.budget_minutes <= 0:
            raise ValueError(f"budget_minutes must be positive, got {self.budget_minutes}")
        check_prompt_elsewhere(self.stage, self.prompt_elsewhere, self.prompt_same_speaker)
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")

    @property
    def resolved_crop_seconds(self) -> float:
        return float(self.crop_seconds) if self.crop_seconds is not None else stage_kind(self.stage).crop_seconds

    def to_dict(self) -> dict:
        return config_to_dict(self)

    def save(self, path: str | os.PathLike) -> Path:
        from audiolm_lib.serialization import atomic_write_text

        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")


def load_stage_config(
    path: str | os.PathLike | None = None,
    overrides: list[str] | None = None,
    stage: str | None = None,
    **fields: Any,
) -> StageTrainConfig:
    """Build a :class:`StageTrainConfig` from a JSON/YAML file, then ``key=value`` overrides, then ``fields``.

    Top-level keys are checked against the dataclass; keys under ``model.`` are free-form here and checked
    when the model config is built. ``stage`` (e.g. from the command line) wins over the file.
    """
    data: dict[str, Any] = read_config_file(path) if path is not None else {}
    known = {f.name for f in dataclasses.fields(StageTrainConfig)} | set(StageTrainConfig.RENAMED_FIELDS)
    for item in overrides or []:
        parts, _ = parse_override(item)
        if parts[0] not in known:
            raise ValueError(f"override {item!r}: unknown field {parts[0]!r} (fields: {sorted(known)})")
        if len(parts) > 1 and parts[0] != "model":
            raise ValueError(f"override {item!r}: {parts[0]!r} is not a config section")
        apply_override(data, item, strict=False)  # the model section is free-form, checked by the model config
    data = renamed_fields(StageTrainConfig, data, str(path) if path else "command line")
    data.update(renamed_fields(StageTrainConfig, {k: v for k, v in fields.items() if v is not None}, "arguments"))
    if stage is not None:
        data["stage"] = stage
    return config_from_dict(StageTrainConfig, data, source=str(path) if path else "command line")
