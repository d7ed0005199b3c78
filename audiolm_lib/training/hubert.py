"""HuBERT iteration 1: masked prediction of MFCC k-means targets, for users with no pretrained model.

A small ``transformers.HubertModel`` reads raw 16 kHz audio; spans of its 50 Hz frames are replaced by the
mask embedding and the model predicts the k-means cluster of each masked frame (cosine similarity of a
projection to per-cluster embeddings, temperature 0.1, as in Hsu et al. 2021). Training resumes exactly
(model, optimizer, schedule, step and RNG in atomic checkpoints); the result is saved as a Hugging Face
directory that :meth:`SemanticTokenizer.from_hubert` and ``audiolm fit-kmeans --features hubert`` load.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiolm_lib.audio import AudioError, load_audio

# HuBERT's convolutional feature encoder: 400-sample receptive field, hop 320 (50 Hz at 16 kHz)
CONV_KERNELS = (10, 3, 3, 3, 3, 2, 2)
CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)
RECEPTIVE_FIELD = 400
HOP = 320
SAMPLE_RATE = 16000


@dataclass
class HubertTrainingConfig:
    """A small HuBERT and its training run. ``checkpoint_every`` (formerly ``save_every``, still read): steps between
    resumable checkpoints."""

    RENAMED_FIELDS: ClassVar[dict[str, str]] = {"save_every": "checkpoint_every"}

    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    conv_dim: int = 256  # width of the conv feature encoder (512 in HuBERT base)
    conv_pos: int = 64  # positional convolution kernel (128 in base)
    conv_pos_groups: int = 16
    proj_dim: int = 128  # final projection / cluster embedding size
    num_clusters: int = 100  # MFCC k-means targets
    mask_prob: float = 0.8  # fraction of frames that start-or-lie-in a masked span (fairseq mask_prob)
    mask_length: int = 10
    logit_temperature: float = 0.1
    crop_seconds: float = 4.0
    batch_size: int = 8
    steps: int = 2000
    lr: float = 5e-4
    warmup_steps: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 10.0
    log_every: int = 20
    checkpoint_every: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            expected = type(item.default)
            if isinstance(value, bool) or not isinstance(value, (int, float) if expected is float else expected):
                raise ValueError(f"HubertTrainingConfig.{item.name} must be {expected.__name__}, got {value!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if not 0.0 < self.mask_prob <= 1.0 or self.mask_length < 1:
            raise ValueError(f"need 0 < mask_prob <= 1 and mask_length >= 1, got {self.mask_prob}, {self.mask_length}")
        if self.crop_seconds * SAMPLE_RATE < RECEPTIVE_FIELD + HOP * self.mask_length:
            raise ValueError(f"crop_seconds {self.crop_seconds} is shorter than one mask span")

    def hubert_config(self):
        from transformers import HubertConfig

        return HubertConfig(
            hidden_size=self.hidden_size, num_hidden_layers=self.num_layers, num_attention_heads=self.num_heads,
            intermediate_size=self.intermediate_size, conv_dim=(self.conv_dim,) * len(CONV_KERNELS),
            conv_kernel=CONV_KERNELS, conv_stride=CONV_STRIDES, num_conv_pos_embeddings=self.conv_pos,
            num_conv_pos_embedding_groups=self.conv_pos_groups, mask_time_prob=0.05,
        )


class HubertPretrainingModel(nn.Module):
    """``HubertModel`` + final projection + cluster embeddings; ``forward`` returns the masked-prediction loss."""

    def __init__(self, config: HubertTrainingConfig):
        super().__init__()
        from transformers import HubertModel

        self.config = config
        self.hubert = HubertModel(config.hubert_config())
        self.final_proj = nn.Linear(config.hidden_size, config.proj_dim)
        self.label_embeddings = nn.Parameter(torch.randn(config.num_clusters, config.proj_dim) * 0.02)

    def forward(self, wave: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``wave: Tensor[B, T]``, ``targets: LongTensor[B, F]``, ``mask: BoolTensor[B, F]`` -> (loss, accuracy)."""
        hidden = self.hubert(wave, mask_time_indices=mask).last_hidden_state  # [B, F, H]
        projected = F.normalize(self.final_proj(hidden[mask]), dim=-1)  # [M, P]
        logits = projected @ F.normalize(self.label_embeddings, dim=-1).T / self.config.logit_temperature
        labels = targets[mask]
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=-1) == labels).float().mean()
        return loss, accuracy


def num_frames(num_samples: int) -> int:
    return (num_samples - RECEPTIVE_FIELD) // HOP + 1


def span_mask(batch: int, frames: int, mask_prob: float, mask_length: int, generator: torch.Generator) -> torch.Tensor:
    """``BoolTensor[B, F]``: ``round(mask_prob * F / mask_length)`` spans of ``mask_length`` per row (may overlap)."""
    spans = max(1, round(mask_prob * frames / mask_length))
    starts = torch.randint(0, max(1, frames - mask_length + 1), (batch, spans), generator=generator)
    positions = (starts[..., None] + torch.arange(mask_length)).clamp_max(frames - 1).reshape(batch, -1)
    mask = torch.zeros(batch, frames, dtype=torch.bool)
    mask.scatter_(1, positions, True)
    return mask


def frame_targets(tokenizer, wave: torch.Tensor) -> torch.Tensor:
    """k-means targets aligned with HuBERT frames: ``Tensor[B, T]`` -> ``LongTensor[B, F]``.

    HuBERT frame ``i`` covers samples ``[320 i, 320 i + 400)`` (centre ``320 i + 200``); the spectral
    tokenizer's frame ``j`` is centred at ``320 j``, so the audio is shifted by 200 samples first.
    """
    shift = RECEPTIVE_FIELD // 2
    tokens = tokenizer.tokenize(wave[:, None, shift:])
    return tokens[:, : num_frames(wave.shape[-1])]


class CropSampler:
    """Random fixed-length crops of a list of audio files, reproducible per step (so resumes are exact)."""

    def __init__(self, files: Sequence[Path], crop_samples: int, cache_seconds: float = 3600.0):
        from audiolm_lib.audio import audio_info

        self.crop_samples = crop_samples
        self.files = []
        for path in files:
            frames, rate = audio_info(path)  # a regular file of a sane rate, else an AudioError naming it
            if frames / rate * SAMPLE_RATE >= RECEPTIVE_FIELD + HOP * 10:
                self.files.append(Path(path))
        if not self.files:
            raise AudioError("no audio file is long enough to train HuBERT on (need > 0.2 s)")
        self._cache: dict[Path, torch.Tensor] = {}
        self._cache_budget = int(cache_seconds * SAMPLE_RATE)

    def _wave(self, path: Path) -> torch.Tensor:
        if path in self._cache:
            return self._cache[path]
        wave = load_audio(path, sample_rate=SAMPLE_RATE)[0]
        if self._cache_budget >= wave.numel():
            self._cache[path] = wave
            self._cache_budget -= wave.numel()
        return wave

    def batch(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """``Tensor[B, T]``: crops of one common length (the shortest chosen file caps it)."""
        picks = torch.randint(0, len(self.files), (batch_size,), generator=generator).tolist()
        waves = [self._wave(self.files[i]) for i in picks]
        length = min(self.crop_samples, min(w.numel() for w in waves))
        crops = []
        for wave in waves:
            start = int(torch.randint(0, wave.numel() - length + 1, (1,), generator=generator))
            crops.append(wave[start : start + length])
        return torch.stack(crops)


def train_hubert(
    audio: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    config: HubertTrainingConfig | None = None,
    targets=None,
    device: str | torch.device = "cpu",
    resume: bool = True,
    progress: bool = True,
):
    """Train HuBERT (iteration 1) on MFCC k-means targets; returns the trained ``transformers.HubertModel``.

    Writes ``out_dir/targets`` (the MFCC target tokenizer, fitted if ``targets`` is None),
    ``out_dir/checkpoints/step_*.safetensors`` (resumable), ``out_dir/metrics.jsonl`` and ``out_dir/hubert`` (HF directory).
    """
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer, fit_tokenizer, list_audio_files
    from audiolm_lib.training.distributed import DistInfo
    from audiolm_lib.training.loop import run_loop
    from audiolm_lib.training.metrics import MetricsLogger, truncate_metrics
    from audiolm_lib.training.schedule import due, warmup_cosine
    from audiolm_lib.training.state import latest_checkpoint, load_training_state, save_training_state

    config = config or HubertTrainingConfig()
    out_dir = Path(out_dir)
    files = list_audio_files(audio)
    if targets is None:
        if (out_dir / "targets" / "config.json").exists():
            targets = SemanticTokenizer.from_pretrained(out_dir / "targets")
        else:
            targets = fit_tokenizer(files, "mfcc", config.num_clusters, seed=config.seed, progress=progress)
            targets.save_pretrained(out_dir / "targets")
    if targets.vocab_size != config.num_clusters or targets.sample_rate != SAMPLE_RATE or targets.frame_rate != 50:
        raise ValueError(f"targets must be a 16 kHz, 50 Hz tokenizer with {config.num_clusters} clusters, got "
                         f"{targets.sample_rate} Hz, {targets.frame_rate} Hz, {targets.vocab_size} clusters")
    targets = targets.to(device)

    torch.manual_seed(config.seed)
    model = HubertPretrainingModel(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.98))
    scheduler = warmup_cosine(optimizer, config.warmup_steps, config.steps)
    step = 0
    checkpoints = out_dir / "checkpoints"
    if resume and latest_checkpoint(checkpoints) is not None:
        state = load_training_state(checkpoints)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = state["step"]
        truncate_metrics(out_dir, step)
    sampler = CropSampler(files, int(config.crop_seconds * SAMPLE_RATE))
    logger = MetricsLogger(out_dir, tensorboard=False)
    model.train()
    done = [step]

    def one_step() -> tuple:
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + done[0])
        wave = sampler.batch(config.batch_size, generator)
        mask = span_mask(wave.shape[0], num_frames(wave.shape[-1]), config.mask_prob, config.mask_length, generator)
        wave, mask = wave.to(device), mask.to(device)
        loss, accuracy = model(wave, frame_targets(targets, wave), mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        done[0] += 1
        return loss, accuracy, grad_norm

    def periodic(number: int, result: tuple, bar) -> bool:
        loss, accuracy, grad_norm = result
        if due(number, config.log_every, config.steps):
            logger.log(number, loss=loss.item(), accuracy=accuracy.item(), grad_norm=float(grad_norm),
                       lr=scheduler.get_last_lr()[0])
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{accuracy.item():.2f}")
        return False

    def checkpoint() -> None:
        save_training_state(checkpoints, done[0], {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                                   "scheduler": scheduler.state_dict()})

    run_loop(step=one_step, periodic=periodic, checkpoint=checkpoint, current=lambda: done[0], stop=config.steps,
             total=config.steps, checkpoint_every=config.checkpoint_every, budget_minutes=None,
             dist=DistInfo(), desc="hubert", progress=progress)
    logger.close()
    model.eval()
    model.hubert.save_pretrained(str(out_dir / "hubert"))
    return model.hubert
