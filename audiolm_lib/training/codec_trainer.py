"""Train a codec: SoundStream (waveform losses, optionally adversarial) or the frame-rate SpectralCodec
(STFT-grid losses), with EMA generator, warmup-cosine LR, exact resume, JSONL metrics, a wall-clock budget,
torchrun/DDP.

``train_codec(config, audio_files, out_dir)`` writes ``out_dir/step_*.safetensors`` training checkpoints,
``out_dir/metrics.jsonl`` and exports the EMA generator to ``out_dir/codec/`` (``load_pretrained``). The codec
family is ``config.arch``; what it minimises is its objective (:mod:`audiolm_lib.training.codec_objectives`).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from audiolm_lib.audio import AudioError, load_audio
from audiolm_lib.measures import mel_distance, si_sdr
from audiolm_lib.serialization import check_buildable, config_from_dict, config_to_dict
from audiolm_lib.training.codec_config import CODEC_MODELS, CodecTrainConfig  # noqa: F401  (re-exported)
from audiolm_lib.training.codec_objectives import SpectralObjective, WaveformObjective
from audiolm_lib.training.distributed import barrier, owned_process_group, setup_distributed, wrap_ddp
from audiolm_lib.training.ema import EMA
from audiolm_lib.training.metrics import MetricsLogger
from audiolm_lib.training.loop import run_loop
from audiolm_lib.training.schedule import due, warmup_cosine
from audiolm_lib.training.state import latest_checkpoint, load_training_state, save_training_state

CODEC_OBJECTIVES = {"soundstream": WaveformObjective, "spectral": SpectralObjective}
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
# arch -> (model class, the CodecTrainConfig field holding its config, objective)
CODEC_ARCHS = {arch: (model_cls, field_name, CODEC_OBJECTIVES[arch])
               for arch, (model_cls, field_name) in CODEC_MODELS.items()}


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
        check_buildable(model_class, model_config, "codec model config")  # sized before allocation
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
        stats, perplexity = self.objective.backward(self.generator_ddp, wave, num_levels, self.step,
                                                    **self._prematch(generator))
        grad_norm = torch.nn.utils.clip_grad_norm_(self.opt_g.param_groups[0]["params"], config.grad_clip)
        self.opt_g.step()
        self.sched_g.step()
        self.ema.update(self.generator)

        self.last_perplexity[:num_levels] = perplexity
        stats.update(num_levels=num_levels, grad_norm=float(grad_norm), lr=self.sched_g.get_last_lr()[0])
        stats.update({f"perplexity_q{q + 1}": float(p) for q, p in enumerate(self.last_perplexity)})
        return stats

    def _prematch(self, generator: torch.Generator) -> dict:
        """``{"latent_transform": Prematcher}`` drawing from this step's generator, or ``{}`` when it is off."""
        config = self.config
        if not config.prematch_share:
            return {}
        from audiolm_lib.training.prematch import Prematcher

        return {"latent_transform": Prematcher(self.generator.quantizer, config.prematch_share,
                                               config.prematch_neighbours, config.prematch_exclude_frames,
                                               tuple(config.prematch_strength), generator)}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """SI-SDR (dB, higher is better) and log-mel distance (lower is better) of the EMA generator."""
        model = self.ema.shadow.eval()
        wave = self.eval_batch
        levels_total = self.config.model_config.num_quantizers
        results = {}
        for levels in sorted({max(1, levels_total // 3), levels_total}):
            audio = model.decode(model.encode(wave, num_levels=levels))[..., :wave.shape[-1]]
            results[f"si_sdr_q{levels}"] = float(si_sdr(wave, audio).mean())
            results[f"mel_distance_q{levels}"] = float(mel_distance(wave, audio, self.config.model_config.sample_rate).mean())
        return results

    # -------------------------------------------------------------------------------------- loop
    def _counted_step(self) -> dict[str, float]:
        stats = self.train_step()
        self.step += 1
        if not all(math.isfinite(v) for v in stats.values()):
            raise FloatingPointError(f"non-finite loss at step {self.step}: {stats}")
        return stats

    def _periodic(self, step: int, stats: dict[str, float], bar) -> bool:
        if due(step, self.config.log_every):
            self.logger.log(step, **stats)
            bar.set_postfix({k.removeprefix("loss_"): f"{v:.3f}" for k, v in stats.items() if k.startswith("loss_")})
        if due(step, self.config.eval_every) and self.dist.is_main:
            self.logger.log(step, split="eval", **self.evaluate())
        return False

    def fit(self, progress: bool = True) -> Path:
        """Train to ``config.steps`` or ``config.budget_minutes``; export the EMA codec to ``out_dir/codec``."""
        config = self.config
        if self.step == 0 and self.dist.is_main and config.eval_every is not None:
            self.logger.log(0, split="eval", **self.evaluate())
        run_loop(step=self._counted_step, periodic=self._periodic, checkpoint=self.save, current=lambda: self.step,
                 stop=config.steps, total=config.steps, checkpoint_every=config.checkpoint_every,
                 budget_minutes=config.budget_minutes, dist=self.dist, desc="codec", progress=progress)
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
    if not resume and latest_checkpoint(out_dir) is not None:  # as train_stage: never prune another run's steps
        raise ValueError(f"{out_dir} already holds training checkpoints: pass resume (--resume) to continue, "
                         "or choose an empty output directory")
    with owned_process_group():  # the trainer starts one under torchrun
        trainer = CodecTrainer(config, audio_files, Path(out_dir))
        if resume:
            newest = latest_checkpoint(trainer.out_dir)
            if newest is None:
                from audiolm_lib.serialization import CheckpointError

                raise CheckpointError(f"--resume: no training checkpoint (step_*.safetensors) in {trainer.out_dir}")
            trainer.load_state_dict(load_training_state(trainer.out_dir))  # newest readable; a damaged one is skipped
        return trainer.fit()
