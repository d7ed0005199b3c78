"""Train a codec: SoundStream (waveform losses, optionally adversarial) or the frame-rate SpectralCodec
(STFT-grid losses), with EMA generator, warmup-cosine LR, exact resume, JSONL metrics, a wall-clock budget,
torchrun/DDP.

``train_codec(config, audio_files, out_dir)`` writes ``out_dir/step_*.safetensors`` training checkpoints,
``out_dir/metrics.jsonl`` and exports the EMA generator to ``out_dir/codec/`` (``load_pretrained``). The codec
family is ``config.arch``; what it minimises is its objective (:mod:`audiolm_lib.training.codec_objectives`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from audiolm_lib.audio import AudioError, load_audio
from audiolm_lib.codecs.discriminators import DiscriminatorConfig, SpectrogramDiscriminatorConfig
from audiolm_lib.codecs.losses import mel_distance, si_sdr
from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig
from audiolm_lib.serialization import config_from_dict, config_to_dict
from audiolm_lib.training.codec_objectives import SpectralObjective, WaveformObjective
from audiolm_lib.training.distributed import any_rank, barrier, setup_distributed, wrap_ddp
from audiolm_lib.training.ema import EMA
from audiolm_lib.training.metrics import MetricsLogger
from audiolm_lib.training.schedule import warmup_cosine
from audiolm_lib.training.state import latest_checkpoint, load_training_state, save_training_state

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
# arch -> (model class, the CodecTrainConfig field holding its config, objective)
CODEC_ARCHS = {
    "soundstream": (SoundStream, "codec", WaveformObjective),
    "spectral": (SpectralCodec, "spectral", SpectralObjective),
}


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
    ``arch``: "spectral" (the default, its config in ``spectral``; see BENCHMARKS.md for why) or "soundstream" (the
    paper baseline, its config in ``codec``, waveform losses; the loss weights below apply to it). "spectral":
    STFT-grid losses ``weight_magnitude`` (log-magnitude L1), ``weight_convergence`` (spectral convergence),
    ``weight_mel`` (log-mel L1 over ``spectral_mel_bands`` bands), and ``weight_phase`` / ``weight_complex`` with a
    learned phase). ``spectral_adversarial``: also a multi-band discriminator on the log-magnitude
    (``spectrogram_discriminator``), its hinge loss and feature matching weighted by ``weight_adversarial`` /
    ``weight_feature`` (no balancer: set them in proportion to the reconstruction weights, e.g. 0.1 / 0.2).
    ``budget_minutes``: stop (with a checkpoint) after this much wall-clock training time in this run; a
    ``--resume`` continues to ``steps``.
    ``init_from``: a codec folder (same architecture) whose weights start the run; with ``train_decoder_only``
    the encoder and codebooks stay frozen, so the codes -- and language models trained on them -- stay valid
    while the decoder improves.
    """

    arch: str = "spectral"
    codec: SoundStreamConfig = field(default_factory=SoundStreamConfig)
    spectral: SpectralCodecConfig = field(default_factory=SpectralCodecConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    spectrogram_discriminator: SpectrogramDiscriminatorConfig = field(default_factory=SpectrogramDiscriminatorConfig)
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
    weight_magnitude: float = 1.0
    weight_convergence: float = 1.0
    weight_phase: float = 1.0
    weight_complex: float = 1.0
    spectral_mel_bands: int = 80
    spectral_adversarial: bool = False
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
    budget_minutes: float | None = None
    init_from: str | None = None
    train_decoder_only: bool = False

    def __post_init__(self) -> None:
        if self.arch not in CODEC_ARCHS:
            raise ValueError(f"CodecTrainConfig.arch must be one of {sorted(CODEC_ARCHS)}, got {self.arch!r}")
        for name in ("steps", "batch_size", "checkpoint_every", "log_every", "eval_every", "eval_segments"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"CodecTrainConfig.{name} must be positive, got {getattr(self, name)}")
        if self.segment_seconds <= 0:
            raise ValueError(f"CodecTrainConfig.segment_seconds must be positive, got {self.segment_seconds}")
        # crops must hold whole codec frames, or the reconstruction and the input differ in length
        model_config = self.model_config
        hop = int(getattr(model_config, "hop_length", 0) or math.prod(model_config.strides))
        samples = self.segment_seconds * self.model_config.sample_rate
        if abs(samples - round(samples)) > 1e-6 or round(samples) % hop:
            raise ValueError(
                f"CodecTrainConfig.segment_seconds={self.segment_seconds} is {samples:g} samples, not a whole number "
                f"of {hop}-sample codec frames; use a multiple of {hop / self.model_config.sample_rate:g} s"
            )

    @property
    def model_config(self):
        """The config of the codec being trained (``codec`` or ``spectral``, by ``arch``)."""
        return getattr(self, CODEC_ARCHS[self.arch][1])


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


def _load_initial_weights(model: torch.nn.Module, directory: Path) -> None:
    """Start from a trained codec of the same class and config (``init_from``)."""
    from audiolm_lib.serialization import CheckpointError, load_pretrained

    source = load_pretrained(directory)
    if type(source) is not type(model) or source.config != model.config:
        raise CheckpointError(f"init_from {directory}: holds a {type(source).__name__} with another config than the "
                              f"{type(model).__name__} being trained")
    model.load_state_dict(source.state_dict())


# ------------------------------------------------------------------------------------------------ trainer
class CodecTrainer:
    """One codec training run (use :func:`train_codec`)."""

    def __init__(self, config: CodecTrainConfig, audio_files: list[Path] | Path | str, out_dir: Path):
        self.config = config
        self.out_dir = Path(out_dir)
        self.dist = setup_distributed(config.device)
        device = self.dist.device
        torch.manual_seed(config.seed)
        model_class, _, objective_class = CODEC_ARCHS[config.arch]
        model_config = config.model_config

        files = resolve_audio_files(audio_files)
        waves = _load_waves(files, model_config.sample_rate)
        num_eval = min(len(files) - 1, max(1, round(len(files) * config.eval_fraction))) if len(files) > 1 else 0
        train_waves, eval_waves = waves[:len(waves) - num_eval], waves[len(waves) - num_eval:] or waves
        segment = max(1, round(config.segment_seconds * model_config.sample_rate))
        self.sampler = SegmentSampler(train_waves, segment)
        eval_generator = torch.Generator().manual_seed(config.seed + 1_000_003)
        self.eval_batch = SegmentSampler(eval_waves, segment).sample(config.eval_segments, eval_generator).to(device)

        self.generator = model_class(model_config)
        if config.init_from:
            _load_initial_weights(self.generator, Path(config.init_from))
        if config.train_decoder_only:
            if not hasattr(self.generator, "freeze_encoder"):
                raise ValueError(f"train_decoder_only: a {model_class.__name__} cannot freeze its encoder")
            self.generator.freeze_encoder()
        self.generator = self.generator.to(device)
        self.objective = objective_class(config, self.generator, self.dist)
        self.ema = EMA(self.generator, config.ema_decay, config.ema_warmup_steps)
        self.generator_ddp = wrap_ddp(self.generator, self.dist)
        trainable = [p for p in self.generator.parameters() if p.requires_grad]
        self.opt_g = torch.optim.Adam(trainable, lr=config.lr, betas=config.betas)
        self.sched_g = warmup_cosine(self.opt_g, config.warmup_steps, config.steps, config.min_lr_ratio)
        self.step = 0
        self.last_perplexity = torch.zeros(model_config.num_quantizers)
        self.logger = MetricsLogger(self.out_dir, tensorboard=False, enabled=self.dist.is_main)

    # -------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        return {
            "config": config_to_dict(self.config),
            "generator": self.generator.state_dict(),
            "objective": self.objective.state_dict(),
            "ema": self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "last_perplexity": self.last_perplexity,
        }

    def load_state_dict(self, state: dict) -> None:
        stored = config_from_dict(CodecTrainConfig, state["config"], source="training checkpoint")
        if (stored.arch, stored.model_config) != (self.config.arch, self.config.model_config) or (
                self.config.arch == "soundstream" and stored.discriminator != self.config.discriminator) or (
                (stored.spectral_adversarial, stored.spectrogram_discriminator)
                != (self.config.spectral_adversarial, self.config.spectrogram_discriminator)):
            from audiolm_lib.serialization import CheckpointError

            raise CheckpointError("cannot resume: the checkpoint's codec/discriminator config differs from this run's")
        self.generator.load_state_dict(state["generator"])
        self.objective.load_state_dict(state["objective"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.sched_g.load_state_dict(state["sched_g"])
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
        model_config = config.model_config
        generator = self._step_generator(self.step)
        wave = self.sampler.sample(config.batch_size, generator).to(self.dist.device)
        level_generator = torch.Generator().manual_seed(config.seed * 7919 + self.step)
        num_levels = (int(torch.randint(1, model_config.num_quantizers + 1, (), generator=level_generator))
                      if model_config.quantizer_dropout else model_config.num_quantizers)
        self.generator.train()
        self.opt_g.zero_grad(set_to_none=True)
        stats, perplexity = self.objective.backward(self.generator_ddp, wave, num_levels, self.step)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.opt_g.param_groups[0]["params"], config.grad_clip)
        self.opt_g.step()
        self.sched_g.step()
        self.ema.update(self.generator)

        self.last_perplexity[:num_levels] = perplexity
        stats.update(num_levels=num_levels, grad_norm=float(grad_norm), lr=self.sched_g.get_last_lr()[0])
        stats.update({f"perplexity_q{q + 1}": float(p) for q, p in enumerate(self.last_perplexity)})
        return stats

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """SI-SDR (dB, higher is better) and log-mel distance (lower is better) of the EMA generator."""
        model = self.ema.shadow.eval()
        wave = self.eval_batch
        levels_total = self.config.model_config.num_quantizers
        results = {}
        for levels in sorted({max(1, levels_total // 3), levels_total}):
            audio = model.decode(model.encode(wave, num_levels=levels))[..., :wave.shape[-1]]
            results[f"si_sdr_q{levels}"] = float(si_sdr(audio, wave).mean())
            results[f"mel_distance_q{levels}"] = float(mel_distance(audio, wave, self.config.model_config.sample_rate))
        return results

    # -------------------------------------------------------------------------------------- loop
    def fit(self, progress: bool = True) -> Path:
        """Train to ``config.steps`` or ``config.budget_minutes``; export the EMA codec to ``out_dir/codec``."""
        from tqdm.auto import tqdm

        config = self.config
        if self.step == 0 and self.dist.is_main and config.eval_every < 10**9:
            self.logger.log(0, split="eval", **self.evaluate())
        bar = tqdm(total=config.steps, initial=self.step, desc="codec", disable=not (progress and self.dist.is_main))
        started = time.monotonic()
        budget_seconds = None if config.budget_minutes is None else 60.0 * config.budget_minutes
        while self.step < config.steps:
            stats = self.train_step()
            self.step += 1
            bar.update(1)
            if not all(math.isfinite(v) for v in stats.values()):
                raise FloatingPointError(f"non-finite loss at step {self.step}: {stats}")
            if self.step % config.log_every == 0:
                self.logger.log(self.step, **stats)
                shown = {k.removeprefix("loss_"): f"{v:.3f}" for k, v in stats.items() if k.startswith("loss_")}
                bar.set_postfix(shown)
            if self.step % config.eval_every == 0 and self.dist.is_main:
                self.logger.log(self.step, split="eval", **self.evaluate())
            # every rank must agree, or one would wait forever in the next all-reduce
            out_of_time = any_rank(budget_seconds is not None and time.monotonic() - started >= budget_seconds, self.dist)
            if self.step % config.checkpoint_every == 0 or self.step == config.steps or out_of_time:
                self.save()
            if out_of_time:
                break
        bar.close()
        export = self.out_dir / "codec"
        if self.dist.is_main:
            self.ema.shadow.save_pretrained(export)
        barrier(self.dist)
        self.logger.close()
        return export


def train_codec(config: CodecTrainConfig, audio_files: list[Path] | Path | str, out_dir: Path | str,
                resume: bool = False) -> Path:
    """Train a codec (``config.arch``) on ``audio_files`` (list, folder, or JSONL manifest with ``"audio"``).

    Writes ``out_dir/step_*.safetensors`` checkpoints and metrics; with ``resume`` continues exactly from the newest
    checkpoint in ``out_dir``. Returns ``out_dir/codec`` (the exported EMA generator).
    """
    trainer = CodecTrainer(config, audio_files, Path(out_dir))
    if resume:
        newest = latest_checkpoint(trainer.out_dir)
        if newest is None:
            from audiolm_lib.serialization import CheckpointError

            raise CheckpointError(f"--resume: no training checkpoint (step_*.safetensors) in {trainer.out_dir}")
        trainer.load_state_dict(load_training_state(trainer.out_dir))  # newest readable; a damaged one is skipped
    return trainer.fit()
