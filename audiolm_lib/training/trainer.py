"""The training loop shared by the three stages: AdamW, warm-up + cosine LR, clipping, accumulation, EMA,
bf16 autocast, validation, sample generation, atomic checkpoints that resume exactly, and DDP via torchrun.

Output directory layout::

    out_dir/step_XXXXXXXX.safetensors  training state (model, EMA, optimizer, scheduler, step, data position, RNG)
    out_dir/metrics.jsonl        one row per log (+ metrics_{train,valid,sample}.csv, tensorboard/ if installed)
    out_dir/samples/step_*.json  tokens generated from a validation prompt
    out_dir/train_config.json    the StageTrainConfig of the run
    out_dir/model/               EMA weights as config.json + model.safetensors (``SemanticLM.from_pretrained``)
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from audiolm_lib.datasets.splits import VALID_SPLITS, split_indices
from audiolm_lib.serialization import CheckpointError, atomic_write_text, check_buildable, config_from_dict
from audiolm_lib.training.config import StageTrainConfig
from audiolm_lib.training.data import CropSpec, StageBatches, _mix, validation_batches
from audiolm_lib.training.distributed import DistInfo, any_rank, barrier, setup_distributed, wrap_ddp
from audiolm_lib.training.ema import EMA
from audiolm_lib.training.metrics import MetricsLogger, truncate_metrics
from audiolm_lib.training.loop import run_loop
from audiolm_lib.training.schedule import due, warmup_cosine
from audiolm_lib.training.stages import StageKind, stage_kind
from audiolm_lib.training.state import latest_checkpoint, load_training_state, rng_state, save_training_state, set_rng_state

# ------------------------------------------------------------------------------------------ model + data
def build_stage_model(config: StageTrainConfig, cache: Any | None = None) -> nn.Module:
    """The stage model of ``config.stage``; model-config fields missing from ``config.model`` come from the cache."""
    kind = stage_kind(config.stage)
    model_cls, config_cls = kind.classes()
    fields = {f for f in config_cls.__dataclass_fields__}
    data = dict(config.model)
    for key, value in _cache_model_fields(kind, cache).items():
        if key in fields:
            data.setdefault(key, value)
    if kind.levels_from_cache is not None and cache is not None and hasattr(cache, "num_quantizers"):
        kind.levels_from_cache(data, config_cls, cache)
    if config.crop_seconds is not None:
        data.setdefault("window_seconds", float(config.crop_seconds))  # generate with the context it was trained on
    model_config = config_from_dict(config_cls, data, source=f"{config.stage} model config")
    check_buildable(model_cls, model_config, f"{config.stage} model config")  # sized before allocation
    return model_cls(model_config)


def _cache_model_fields(kind: StageKind, cache: Any | None) -> dict[str, Any]:
    if cache is None:
        return {}
    found = {name: getattr(cache, name) for name in ("semantic_rate", "acoustic_rate", "codebook_size")
             if hasattr(cache, name)}
    if kind.semantic_vocab_field is not None and hasattr(cache, "semantic_vocab_size"):
        found[kind.semantic_vocab_field] = cache.semantic_vocab_size
    return found


def _model_attr(model: nn.Module, names: tuple[str, ...], default: Any) -> Any:
    config = getattr(model, "config", None)
    for name in names:
        if config is not None and hasattr(config, name):
            return getattr(config, name)
    return default


def check_cache_fits(model: nn.Module, cache: Any, stage: str) -> None:
    """Clear errors when the token cache and the model disagree (rates, vocabulary, codebooks)."""
    config = getattr(model, "config", None)
    for name in ("semantic_rate", "acoustic_rate", "codebook_size"):
        if config is not None and hasattr(config, name) and hasattr(cache, name):
            if not math.isclose(float(getattr(config, name)), float(getattr(cache, name)), rel_tol=1e-6):
                raise ValueError(f"token cache has {name}={getattr(cache, name)} but the {stage} model expects "
                                 f"{getattr(config, name)}")
    field = stage_kind(stage).semantic_vocab_field
    vocab = None if field is None else _model_attr(model, (field,), None)
    if vocab is not None and getattr(cache, "semantic_vocab_size", 0) > vocab:
        raise ValueError(f"token cache has {cache.semantic_vocab_size} semantic tokens but the {stage} model's "
                         f"vocabulary holds only {vocab}")


def open_token_cache(source: Any) -> Any:
    """A ``TokenCache`` from a directory path, or ``source`` itself when it already is one."""
    if isinstance(source, (str, os.PathLike)):
        from audiolm_lib.training.token_cache import TokenCache

        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"token cache directory not found: {path}")
        return TokenCache(path)
    return source


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU")
    if name.split(":")[0] not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {name!r}")
    return name


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


# ------------------------------------------------------------------------------------------ trainer
class StageTrainer:
    """Trains one stage model on a token cache; see the module docstring for what lands in ``out_dir``.

    Args:
        config: the run's :class:`StageTrainConfig`.
        cache: a ``TokenCache`` (or anything with its interface) for training (and validation, by split).
        out_dir: where checkpoints, metrics, samples and the exported model go.
        resume: continue from the newest readable ``out_dir/step_*.safetensors`` (exactly: same data, RNG and loss curve).
        valid_cache: a separate validation cache; default: the cache's items whose split is valid/dev.
        model: a ready model instead of building ``config.model`` (must take the stage's ``forward`` arguments).
        dist: the distributed position; default: read from the torchrun environment.
    """

    def __init__(self, config: StageTrainConfig, cache: Any, out_dir: str | os.PathLike, resume: bool = False,
                 valid_cache: Any | None = None, model: nn.Module | None = None, dist: DistInfo | None = None):
        self.config = config
        self.out_dir = Path(out_dir)
        self.dist = dist or setup_distributed(resolve_device(config.device))
        self.device = self.dist.device if self.dist.device.type == "cuda" else torch.device(resolve_device(config.device))
        if not resume and latest_checkpoint(self.out_dir) is not None:
            raise ValueError(f"{self.out_dir} already holds training checkpoints: pass resume (--resume) to continue, "
                             "or choose an empty output directory")
        self.cache = cache
        _seed_everything(config.seed)  # identical initial weights on every rank
        if model is None:
            model = build_stage_model(config, cache)
            if config.init_from and not resume:  # a resume reads every weight from its checkpoint
                _load_initial_weights(model, Path(config.init_from))
        self.model = model.to(self.device)
        check_cache_fits(self.model, cache, config.stage)
        crop_seconds = config.crop_seconds or float(_model_attr(self.model, ("window_seconds",), config.resolved_crop_seconds))
        window_seconds = _model_attr(self.model, ("window_seconds",), None)
        if window_seconds is not None and crop_seconds > window_seconds + 1e-9:
            raise ValueError(f"crop_seconds={crop_seconds} exceeds the {config.stage} model's window_seconds="
                             f"{window_seconds}: the model never sees more than one window; shorten the crop")
        self.spec = CropSpec(
            stage=config.stage,
            seconds=crop_seconds,
            semantic_rate=float(_model_attr(self.model, ("semantic_rate",), getattr(cache, "semantic_rate", 50.0))),
            acoustic_rate=float(_model_attr(self.model, ("acoustic_rate",), getattr(cache, "acoustic_rate", 50.0))),
            num_coarse=int(_model_attr(self.model, ("num_coarse_quantizers", "num_quantizers"), 4)),
            num_fine=int(_model_attr(self.model, ("num_fine_quantizers",), 0)),
            min_seconds=min(config.min_crop_seconds, crop_seconds),
            prompt_elsewhere=config.prompt_elsewhere,
            prompt_same_speaker=config.prompt_same_speaker,
            prompt_only_tag=config.prompt_only_tag,
        )
        train_items, valid_items = split_indices(cache)
        self.batches = StageBatches(cache, self.spec, config.batch_size, seed=config.seed, rank=self.dist.rank,
                                    world_size=self.dist.world_size, indices=train_items)
        if valid_cache is not None:
            self.valid_source: tuple[Any, list[int] | None] | None = (valid_cache, None)
        else:
            self.valid_source = (cache, valid_items) if valid_items else None
        if self.valid_source is None and self.dist.is_main:
            import sys

            print(f"note: the token cache has no validation items (split {'/'.join(VALID_SPLITS)}) and no valid_cache "
                  "was given: validation loss and samples are skipped", file=sys.stderr)
        self._valid_batches: list[dict[str, torch.Tensor]] | None = None
        # DDP broadcasts rank 0's weights here, so the EMA copy below starts equal on every rank
        self.train_model = wrap_ddp(self.model, self.dist)
        self.ema = EMA(self.model, decay=config.ema_decay, warmup_steps=config.ema_warmup_steps)
        self.optimizer = torch.optim.AdamW(_param_groups(self.model, config.weight_decay), lr=config.lr,
                                           betas=tuple(config.betas))
        self.scheduler = warmup_cosine(self.optimizer, config.warmup_steps, config.steps, config.min_lr_ratio)
        self.step = 0
        self.logged_losses: list[float] = []  # the train losses logged by this process's train()
        # early stopping on the EMA validation loss: the best so far, its step, validations since
        self.best = {"loss": float("inf"), "step": 0, "stale": 0}
        if resume:
            self._load_checkpoint()
        else:
            # a different dropout stream per rank; saved and restored with each checkpoint
            _seed_everything(_mix(config.seed, self.dist.rank, 2) % 2**31)
        self.autocast_dtype = _autocast_dtype(config.precision, self.device)
        self.logger = MetricsLogger(self.out_dir, tensorboard=config.tensorboard, enabled=self.dist.is_main)
        if self.dist.is_main:
            config.save(self.out_dir / "train_config.json")

    # -------------------------------------------------------------- one optimisation step
    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def train_step(self) -> dict[str, float]:
        """``grad_accumulation`` micro-batches, clip, AdamW, LR schedule, EMA. Returns loss, grad_norm, lr."""
        self.train_model.train()
        accumulation = self.config.grad_accumulation
        total = torch.zeros((), device=self.device)
        for micro in range(accumulation):
            batch = _to(self.batches.next_batch(), self.device)
            last = micro == accumulation - 1
            # DDP averages gradients only on the last micro-batch: the others accumulate locally
            sync = contextlib.nullcontext() if last or not self.dist.enabled else self.train_model.no_sync()
            with sync:
                with self._autocast():
                    loss = self.train_model(**batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"{self.config.stage} loss is {loss.item()} at step {self.step + 1} "
                                             "(learning rate too high, or bad tokens in the cache?)")
                (loss.float() / accumulation).backward()
            total += loss.detach().float()
        params = [p for p in self.model.parameters() if p.grad is not None]
        max_norm = self.config.grad_clip if self.config.grad_clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.ema.update(self.model)
        self.step += 1
        return {"loss": total / accumulation, "grad_norm": grad_norm.detach(), "lr": lr}

    # -------------------------------------------------------------- loop
    def train(self, max_steps: int | None = None) -> Path:
        """Train to ``config.steps`` (or stop after step ``max_steps``); returns ``out_dir / "model"``."""
        config = self.config
        stop = config.steps if max_steps is None else min(config.steps, max_steps)
        try:
            run_loop(step=self.train_step, periodic=self._periodic, checkpoint=self.save_checkpoint,
                     current=lambda: self.step, stop=stop, total=config.steps, checkpoint_every=config.checkpoint_every,
                     budget_minutes=config.budget_minutes, dist=self.dist, desc=f"train {config.stage}",
                     progress=config.progress)
        finally:
            self.logger.close()
        return self.out_dir / "model"

    def _periodic(self, step: int, stats: dict, bar) -> bool:
        """Log, validate (tracking the best EMA weights) and sample when due; True once early stopping says stop."""
        config = self.config
        if due(step, config.log_every, config.steps):
            loss = self._mean_over_ranks(stats["loss"])
            self.logged_losses.append(loss)
            self.logger.log(step, "train", loss=loss, grad_norm=float(stats["grad_norm"]), lr=stats["lr"])
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{stats['lr']:.2e}")
        converged = False
        if due(step, config.eval_every, config.steps):
            converged = self._track_best(self.evaluate())
        if due(step, config.sample_every, config.steps):
            self.sample()
        return any_rank(converged, self.dist)

    def _track_best(self, result: dict[str, float]) -> bool:
        """Export the EMA weights when their validation loss is the best yet; True once patience runs out."""
        loss = result.get("ema_loss")
        if loss is None:
            return False
        if loss < self.best["loss"]:
            self.best = {"loss": float(loss), "step": self.step, "stale": 0}
            if self.dist.is_main:
                self.export()
        else:
            self.best["stale"] += 1
        self.logger.log(self.step, "best", ema_loss=self.best["loss"], best_step=self.best["step"], stale=self.best["stale"])
        patience = self.config.early_stopping_patience
        return patience is not None and self.best["stale"] >= patience

    def _mean_over_ranks(self, value: torch.Tensor) -> float:
        if self.dist.enabled:
            import torch.distributed as dist

            value = value.clone()
            dist.all_reduce(value)
            value /= self.dist.world_size
        return float(value)

    # -------------------------------------------------------------- validation and samples
    def valid_batches(self) -> list[dict[str, torch.Tensor]]:
        if self._valid_batches is None:
            if self.valid_source is None:
                self._valid_batches = []
            else:
                cache, items = self.valid_source
                self._valid_batches = validation_batches(cache, self.spec, self.config.batch_size,
                                                         self.config.eval_batches, items)
        return self._valid_batches

    @torch.no_grad()
    def validation_loss(self, model: nn.Module) -> float | None:
        """Mean loss of ``model`` over the validation batches (None without validation data)."""
        batches = self.valid_batches()
        if not batches:
            return None
        was_training = model.training
        model.eval()
        losses = []
        for batch in batches:
            with self._autocast():
                losses.append(float(model(**_to(batch, self.device))))
        model.train(was_training)
        return sum(losses) / len(losses)

    def evaluate(self) -> dict[str, float]:
        """Validation loss of the raw and the EMA weights (rank 0 only), logged as split "valid"."""
        if not self.dist.is_main:
            return {}
        raw, ema = self.validation_loss(self.model), self.validation_loss(self.ema.shadow)
        if raw is None:
            return {}
        result = {"loss": raw, "ema_loss": ema}
        self.logger.log(self.step, "valid", **result)
        return result

    @torch.no_grad()
    def sample(self) -> Path | None:
        """Continue the first validation crop from its first half with the EMA model; save tokens as JSON."""
        batches = self.valid_batches()
        if not self.dist.is_main or not batches:
            return None
        model = self.ema.shadow
        if not hasattr(model, "generate"):
            return None
        batch = {k: v[:1].to(self.device) for k, v in batches[0].items()}
        generator = torch.Generator(device=self.device).manual_seed(self.config.seed)
        stage = self.config.stage
        count = max(1, round(self.config.sample_seconds * self.spec.semantic_rate))
        prompt, reference, generated = stage_kind(stage).preview(model, batch, count, generator)
        overlap = min(generated.shape[-1], reference.shape[-1])
        accuracy = float((generated[..., :overlap] == reference[..., :overlap]).float().mean()) if overlap else 0.0
        record = {"step": self.step, "stage": stage, "prompt": prompt.tolist(), "generated": generated.tolist(),
                  "reference": reference.tolist(), "token_accuracy": accuracy}
        path = atomic_write_text(self.out_dir / "samples" / f"step_{self.step:08d}.json", json.dumps(record) + "\n")
        self.logger.log(self.step, "sample", token_accuracy=accuracy, tokens=generated.shape[-1])
        return path

    # -------------------------------------------------------------- checkpoints
    def save_checkpoint(self) -> Path | None:
        """Atomic ``out_dir/step_*.safetensors`` plus the EMA export ``out_dir/model`` (rank 0 writes; all ranks wait)."""
        ranks_rng = [rng_state()]
        if self.dist.enabled:
            import torch.distributed as dist

            ranks_rng = [None] * self.dist.world_size
            dist.all_gather_object(ranks_rng, rng_state())
        path = None
        if self.dist.is_main:
            state = {
                "model": self.model.state_dict(),
                "ema": self.ema.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "data": self.batches.state_dict(),
                "config": self.config.to_dict(),
                "world_size": self.dist.world_size,
                "rank_rng": ranks_rng,
                "best": dict(self.best),
            }
            path = save_training_state(self.out_dir, self.step, state, keep=self.config.keep_checkpoints)
            if self.valid_source is None or not math.isfinite(self.best["loss"]):
                self.export()  # no validation (yet): the newest EMA weights; otherwise model/ holds the best
        barrier(self.dist)
        return path

    def export(self, directory: str | os.PathLike | None = None) -> Path:
        """Save the EMA weights with ``save_pretrained`` (default ``out_dir / "model"``)."""
        directory = Path(directory) if directory is not None else self.out_dir / "model"
        shadow = self.ema.shadow
        if not hasattr(shadow, "save_pretrained"):
            raise TypeError(f"{type(shadow).__name__} has no save_pretrained; cannot export the trained model")
        provenance = getattr(self.cache, "provenance", None)  # the tokenizer and codec behind the tokens
        if isinstance(provenance, dict):
            if not stage_kind(self.config.stage).uses_codec:  # it never sees codec tokens: any codec goes with it
                provenance = {role: value for role, value in provenance.items() if role == "semantic_tokenizer"}
            shadow.trained_on = provenance
        return shadow.save_pretrained(directory)

    def _load_checkpoint(self) -> None:
        if latest_checkpoint(self.out_dir) is None:
            raise CheckpointError(f"cannot resume: no training checkpoint (step_*.safetensors) in {self.out_dir}")
        state = load_training_state(self.out_dir, restore_rng=False)
        stored_stage = state.get("config", {}).get("stage")
        if stored_stage != self.config.stage:
            raise CheckpointError(f"{self.out_dir} holds a {stored_stage!r} training run, not {self.config.stage!r}")
        try:
            self.model.load_state_dict(state["model"])
            self.ema.load_state_dict(state["ema"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"the checkpoint in {self.out_dir} does not match this model/config "
                                  f"(changed model settings?): {exc}") from exc
        self.batches.load_state_dict(state["data"])
        self.step = int(state["step"])
        if "best" in state:
            self.best = {"loss": float(state["best"]["loss"]), "step": int(state["best"]["step"]),
                         "stale": int(state["best"]["stale"])}
        ranks_rng = state.get("rank_rng") or [state["rng"]]
        if len(ranks_rng) == self.dist.world_size:
            set_rng_state(ranks_rng[self.dist.rank])
        else:  # a different number of processes: the stream cannot be identical anyway
            set_rng_state(ranks_rng[0])
            torch.manual_seed(_mix(self.config.seed, self.dist.rank, self.step) % 2**31)
        if self.dist.is_main:
            truncate_metrics(self.out_dir, self.step)


def _load_initial_weights(model: nn.Module, directory: Path) -> None:
    """Start from a trained stage model (``init_from``): same class and weight shapes, else a CheckpointError."""
    from audiolm_lib.serialization import CheckpointError, load_pretrained

    source = load_pretrained(directory)
    if type(source) is not type(model):
        raise CheckpointError(f"init_from {directory}: holds a {type(source).__name__}, not a {type(model).__name__}")
    theirs, ours = source.state_dict(), model.state_dict()
    differing = sorted(k for k in set(theirs) | set(ours) if k not in theirs or k not in ours
                       or theirs[k].shape != ours[k].shape)
    if differing:
        raise CheckpointError(f"init_from {directory}: its weights do not fit the configured model "
                              f"({len(differing)} differ, e.g. {differing[:3]}); give the same model shape")
    model.load_state_dict(theirs)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices only; biases, norms and scalars are left alone."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.dim() >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def train_stage(config: StageTrainConfig, cache_dir: str | os.PathLike | Any, out_dir: str | os.PathLike,
                resume: bool = False, valid_cache: Any | None = None, max_steps: int | None = None) -> Path:
    """Train ``config.stage`` on a token cache (directory or ``TokenCache``); returns ``out_dir / "model"``.

    Under ``torchrun --nproc_per_node N`` every process runs this same call (DDP; gloo on CPU, nccl on GPU).
    """
    from audiolm_lib.training.distributed import owned_process_group

    with owned_process_group():
        info = setup_distributed(resolve_device(config.device))
        cache = open_token_cache(cache_dir)
        valid = open_token_cache(valid_cache) if valid_cache is not None else None
        trainer = StageTrainer(config, cache, out_dir, resume=resume, valid_cache=valid, dist=info)
        return trainer.train(max_steps=max_steps)
