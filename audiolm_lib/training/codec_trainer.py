"""Train a SoundStream codec: reconstruction (time, multi-resolution STFT, mel) + adversarial (waveform and
STFT discriminators, hinge) + feature matching, balanced by EnCodec's gradient balancer, EMA generator,
warmup-cosine LR, exact resume, JSONL/CSV metrics, torchrun/DDP.

``train_codec(config, audio_files, out_dir)`` writes ``out_dir/step_*.pt`` training checkpoints,
``out_dir/metrics.jsonl`` and exports the EMA generator to ``out_dir/codec/`` (``SoundStream.from_pretrained``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from audiolm_lib.audio import AudioError, load_audio
from audiolm_lib.codecs.discriminators import CodecDiscriminator, DiscriminatorConfig
from audiolm_lib.codecs.losses import (
    LossBalancer,
    MultiResolutionSTFTLoss,
    MultiScaleMelLoss,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    mel_distance,
    si_sdr,
)
from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
from audiolm_lib.serialization import config_from_dict, config_to_dict
from audiolm_lib.training.distributed import barrier, setup_distributed, unwrap, wrap_ddp
from audiolm_lib.training.ema import EMA
from audiolm_lib.training.metrics import MetricsLogger
from audiolm_lib.training.schedule import warmup_cosine
from audiolm_lib.training.state import latest_checkpoint, load_training_state, save_training_state

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}


@dataclass
class CodecTrainConfig:
    """Everything a codec training run needs besides the data and the output folder.

    Loss weights are the balancer's shares of the generator-output gradient (EnCodec: time 0.1,
    frequency 1, adversarial 3, feature matching 3); without the balancer they multiply the losses.
    The time-domain weight defaults to 1.0, not EnCodec's 0.1: in short small-batch runs the waveform
    (and SI-SDR) only started to be learned with the larger share.
    ``adversarial_start_step``: train on reconstruction only before this step (stabilises early GAN).
    ``eval_fraction``: share of files held out for SI-SDR / mel-distance evaluation (at least one file
    when there are two or more; with one file, evaluation uses fixed segments of it).
    """

    codec: SoundStreamConfig = field(default_factory=SoundStreamConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    steps: int = 20000
    batch_size: int = 8
    segment_seconds: float = 1.0
    lr: float = 3e-4
    discriminator_lr: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.9)
    warmup_steps: int = 500
    min_lr_ratio: float = 0.1
    grad_clip: float = 10.0
    use_balancer: bool = True
    weight_time: float = 1.0
    weight_stft: float = 1.0
    weight_mel: float = 1.0
    weight_adversarial: float = 3.0
    weight_feature: float = 3.0
    commitment_weight: float = 1.0
    adversarial_start_step: int = 0
    stft_fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128)
    mel_fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256)
    ema_decay: float = 0.999
    ema_warmup_steps: int = 100
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    log_every: int = 10
    eval_every: int = 500
    eval_segments: int = 8
    eval_fraction: float = 0.1
    seed: int = 0
    device: str | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "log_every", "eval_every", "eval_segments"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"CodecTrainConfig.{name} must be positive, got {getattr(self, name)}")
        if self.segment_seconds <= 0:
            raise ValueError(f"CodecTrainConfig.segment_seconds must be positive, got {self.segment_seconds}")
        # crops must hold whole codec frames, or the reconstruction and the input differ in length
        hop = math.prod(self.codec.strides)
        samples = self.segment_seconds * self.codec.sample_rate
        if abs(samples - round(samples)) > 1e-6 or round(samples) % hop:
            raise ValueError(
                f"CodecTrainConfig.segment_seconds={self.segment_seconds} is {samples:g} samples, not a whole number "
                f"of {hop}-sample codec frames; use a multiple of {hop / self.codec.sample_rate:g} s"
            )


# ------------------------------------------------------------------------------------------------ data
def resolve_audio_files(audio_files: list[Path] | Path | str) -> list[Path]:
    """A folder (searched recursively), a JSONL manifest with an ``"audio"`` field per line (relative
    paths are relative to the manifest; ``"id"`` optional), or a list of files -> list of audio paths
    (sorted for a folder, in manifest or list order otherwise)."""
    from audiolm_lib.datasets.manifest import list_audio_files, read_manifest

    if isinstance(audio_files, (str, Path)):
        source = Path(audio_files)
        if not source.exists():
            raise FileNotFoundError(f"audio source not found: {source}")
        if source.is_dir():
            return list_audio_files(source, sorted(AUDIO_SUFFIXES))
        if source.suffix.lower() in (".jsonl", ".json"):
            entries = read_manifest(source, resolve=False, require_id=False)
            # joined, not resolved: the paths stay as the manifest's location was given
            return [Path(e["audio"]) if Path(e["audio"]).is_absolute() else source.parent / e["audio"] for e in entries]
        return [source]
    files = [Path(p) for p in audio_files]
    if not files:
        raise AudioError("no audio files given")
    return files


class SegmentSampler:
    """All clips in memory at the codec's rate; random fixed-length crops drawn from a given generator."""

    def __init__(self, waves: list[torch.Tensor], segment_samples: int):
        if not waves:
            raise AudioError("no audio to sample segments from")
        self.waves = waves
        self.segment_samples = segment_samples
        lengths = torch.tensor([w.shape[-1] for w in waves], dtype=torch.float64)
        self.weights = lengths / lengths.sum()  # longer files are sampled more often

    def sample(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """``Tensor[batch_size, 1, segment_samples]``; short clips are zero-padded on the right."""
        picks = torch.multinomial(self.weights, batch_size, replacement=True, generator=generator)
        crops = []
        for index in picks.tolist():
            wave = self.waves[index]
            spare = wave.shape[-1] - self.segment_samples
            start = int(torch.randint(0, spare + 1, (), generator=generator)) if spare > 0 else 0
            crop = wave[..., start:start + self.segment_samples]
            crops.append(F.pad(crop, (0, self.segment_samples - crop.shape[-1])))
        return torch.stack(crops)


def _load_waves(files: list[Path], sample_rate: int) -> list[torch.Tensor]:
    from tqdm.auto import tqdm

    return [load_audio(f, sample_rate=sample_rate) for f in tqdm(files, desc="loading audio", leave=False)]


# ------------------------------------------------------------------------------------------------ trainer
class CodecTrainer:
    """One SoundStream + discriminator training run (use :func:`train_codec`)."""

    def __init__(self, config: CodecTrainConfig, audio_files: list[Path] | Path | str, out_dir: Path):
        self.config = config
        self.out_dir = Path(out_dir)
        self.dist = setup_distributed(config.device)
        device = self.dist.device
        torch.manual_seed(config.seed)

        files = resolve_audio_files(audio_files)
        waves = _load_waves(files, config.codec.sample_rate)
        num_eval = min(len(files) - 1, max(1, round(len(files) * config.eval_fraction))) if len(files) > 1 else 0
        train_waves, eval_waves = waves[:len(waves) - num_eval], waves[len(waves) - num_eval:] or waves
        segment = max(1, round(config.segment_seconds * config.codec.sample_rate))
        self.sampler = SegmentSampler(train_waves, segment)
        eval_generator = torch.Generator().manual_seed(config.seed + 1_000_003)
        self.eval_batch = SegmentSampler(eval_waves, segment).sample(config.eval_segments, eval_generator).to(device)

        self.generator = SoundStream(config.codec).to(device)
        self.discriminator = CodecDiscriminator(config.discriminator).to(device)
        self.ema = EMA(self.generator, config.ema_decay, config.ema_warmup_steps)
        self.generator_ddp = wrap_ddp(self.generator, self.dist)
        self.discriminator_ddp = wrap_ddp(self.discriminator, self.dist)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.discriminator_lr, betas=config.betas)
        self.sched_g = warmup_cosine(self.opt_g, config.warmup_steps, config.steps, config.min_lr_ratio)
        self.sched_d = warmup_cosine(self.opt_d, config.warmup_steps, config.steps, config.min_lr_ratio)
        self.stft_loss = MultiResolutionSTFTLoss(config.stft_fft_sizes)
        self.mel_loss = MultiScaleMelLoss(config.codec.sample_rate, config.mel_fft_sizes).to(device)
        self.weights = {"time": config.weight_time, "stft": config.weight_stft, "mel": config.weight_mel,
                        "adversarial": config.weight_adversarial, "feature": config.weight_feature}
        self.balancer = LossBalancer(self.weights)
        self.step = 0
        self.last_perplexity = torch.zeros(config.codec.num_quantizers)
        self.logger = MetricsLogger(self.out_dir, tensorboard=False, enabled=self.dist.is_main)

    # -------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        return {
            "config": config_to_dict(self.config),
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "ema": self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict(),
            "balancer": self.balancer.state_dict(),
            "last_perplexity": self.last_perplexity,
        }

    def load_state_dict(self, state: dict) -> None:
        stored = config_from_dict(CodecTrainConfig, state["config"], source="training checkpoint")
        if stored.codec != self.config.codec or stored.discriminator != self.config.discriminator:
            from audiolm_lib.serialization import CheckpointError

            raise CheckpointError("cannot resume: the checkpoint's codec/discriminator config differs from this run's")
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        self.balancer.load_state_dict(state["balancer"])
        self.last_perplexity = state["last_perplexity"]
        self.step = int(state["step"])

    def save(self) -> None:
        if self.dist.is_main:
            save_training_state(self.out_dir, self.step, self.state_dict(), keep=self.config.keep_checkpoints)
        barrier(self.dist)

    # -------------------------------------------------------------------------------------- one step
    def _step_generator(self, step: int) -> torch.Generator:
        # data and quantizer dropout depend only on (seed, step, rank): identical after a resume, and the
        # number of RVQ levels agrees across ranks (their codebook statistics are all-reduced)
        return torch.Generator().manual_seed(self.config.seed * 1_000_003 + step * 131 + self.dist.rank)

    def train_step(self) -> dict[str, float]:
        config = self.config
        generator = self._step_generator(self.step)
        wave = self.sampler.sample(config.batch_size, generator).to(self.dist.device)
        level_generator = torch.Generator().manual_seed(config.seed * 7919 + self.step)
        num_levels = (int(torch.randint(1, config.codec.num_quantizers + 1, (), generator=level_generator))
                      if config.codec.quantizer_dropout else config.codec.num_quantizers)
        self.generator.train()
        self.discriminator.train()
        out = self.generator_ddp(wave, num_levels=num_levels)
        fake = out.audio
        adversarial = self.step >= config.adversarial_start_step
        stats: dict[str, float] = {}

        # discriminator update on detached reconstructions
        if adversarial:
            real_logits, _ = self.discriminator_ddp(wave)
            fake_logits, _ = self.discriminator_ddp(fake.detach())
            loss_d = discriminator_hinge_loss(real_logits, fake_logits)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            torch.nn.utils.clip_grad_norm_(self.discriminator.parameters(), config.grad_clip)
            self.opt_d.step()
            self.sched_d.step()
            stats["loss_discriminator"] = loss_d.item()

        # generator update (the plain discriminator: its weights are not updated here)
        losses = {
            "time": F.l1_loss(fake, wave),
            "stft": self.stft_loss(fake, wave),
            "mel": self.mel_loss(fake, wave),
        }
        if adversarial:
            fake_logits, fake_features = self.discriminator(fake)
            with torch.no_grad():
                _, real_features = self.discriminator(wave)
            losses["adversarial"] = generator_adversarial_loss(fake_logits)
            losses["feature"] = feature_matching_loss(real_features, fake_features)
        self.opt_g.zero_grad(set_to_none=True)
        commitment = out.commitment_loss * config.commitment_weight
        if config.use_balancer:
            grad = self.balancer.gradient(losses, fake)
            torch.autograd.backward([fake, commitment], [grad, torch.ones_like(commitment)])
        else:
            total = sum(self.weights[name] * loss for name, loss in losses.items()) + commitment
            total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.generator.parameters(), config.grad_clip)
        self.opt_g.step()
        self.sched_g.step()
        self.ema.update(self.generator)

        self.last_perplexity[:num_levels] = out.perplexity.detach().cpu()
        stats.update({f"loss_{name}": loss.item() for name, loss in losses.items()})
        stats.update(commitment=out.commitment_loss.item(), num_levels=num_levels, grad_norm=float(grad_norm),
                     lr=self.sched_g.get_last_lr()[0])
        stats.update({f"perplexity_q{q + 1}": float(p) for q, p in enumerate(self.last_perplexity)})
        return stats

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """SI-SDR (dB, higher is better) and log-mel distance (lower is better) of the EMA generator."""
        model = self.ema.shadow.eval()
        wave = self.eval_batch
        results = {}
        for levels in sorted({max(1, self.config.codec.num_quantizers // 3), self.config.codec.num_quantizers}):
            audio = model.decode(model.encode(wave, num_levels=levels))[..., :wave.shape[-1]]
            results[f"si_sdr_q{levels}"] = float(si_sdr(audio, wave).mean())
            results[f"mel_distance_q{levels}"] = float(mel_distance(audio, wave, self.config.codec.sample_rate))
        return results

    # -------------------------------------------------------------------------------------- loop
    def fit(self) -> Path:
        from tqdm.auto import tqdm

        config = self.config
        if self.step == 0 and self.dist.is_main:
            self.logger.log(0, split="eval", **self.evaluate())
        bar = tqdm(total=config.steps, initial=self.step, desc="codec", disable=not self.dist.is_main)
        while self.step < config.steps:
            stats = self.train_step()
            self.step += 1
            bar.update(1)
            if not all(math.isfinite(v) for v in stats.values()):
                raise FloatingPointError(f"non-finite loss at step {self.step}: {stats}")
            if self.step % config.log_every == 0:
                self.logger.log(self.step, **stats)
                bar.set_postfix(mel=f"{stats['loss_mel']:.3f}", stft=f"{stats['loss_stft']:.3f}")
            if self.step % config.eval_every == 0 and self.dist.is_main:
                self.logger.log(self.step, split="eval", **self.evaluate())
            if self.step % config.checkpoint_every == 0 or self.step == config.steps:
                self.save()
        bar.close()
        export = self.out_dir / "codec"
        if self.dist.is_main:
            self.ema.shadow.save_pretrained(export)
        barrier(self.dist)
        self.logger.close()
        return export


def train_codec(config: CodecTrainConfig, audio_files: list[Path] | Path | str, out_dir: Path | str,
                resume: bool = False) -> Path:
    """Train a SoundStream codec on ``audio_files`` (list, folder, or JSONL manifest with ``"audio"``).

    Writes ``out_dir/step_*.pt`` checkpoints and metrics; with ``resume`` continues exactly from the newest
    checkpoint in ``out_dir``. Returns ``out_dir/codec`` (the exported EMA generator).
    """
    trainer = CodecTrainer(config, audio_files, Path(out_dir))
    if resume:
        newest = latest_checkpoint(trainer.out_dir)
        if newest is None:
            from audiolm_lib.serialization import CheckpointError

            raise CheckpointError(f"--resume: no training checkpoint (step_*.pt) in {trainer.out_dir}")
        trainer.load_state_dict(load_training_state(trainer.out_dir))  # newest readable; a damaged one is skipped
    return trainer.fit()
