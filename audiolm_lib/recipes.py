"""The small end-to-end recipe: embedded data -> codec -> semantic tokenizer -> token cache -> the semantic stage
and an acoustic generator -> one ``AudioLM`` directory (``AudioLM.from_pretrained``).

By default it builds what ships, at a small size: a SpectralCodec and the parallel acoustic generator
(``acoustic_generator="parallel"``); ``"hierarchical"`` trains the paper's coarse + fine stages instead. Stages are
trained by the one stage trainer (:class:`~audiolm_lib.training.trainer.StageTrainer`) with a time budget.

Every phase writes into ``work_dir`` and is skipped when its output is already there, so an interrupted
recipe resumes where it stopped. Each training phase stops at its step count or its time limit, whichever
comes first (CPU budgets are measured in minutes, not steps)::

    from audiolm_lib.recipes import RecipeConfig, run_recipe
    model = run_recipe(RecipeConfig.small("piano"), work_dir="runs/piano", out_dir="checkpoints/piano")

``RecipeConfig.tiny(kind)`` is the same pipeline at a size that runs end to end in about a minute (tests,
``audiolm demo --retrain --budget-minutes 1``).
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from audiolm_lib.atomic import atomic_write_text
from audiolm_lib.codecs.soundstream import SoundStreamConfig
from audiolm_lib.codecs.spectral import SpectralCodecConfig
from audiolm_lib.lm.transformer import TransformerConfig
from audiolm_lib.training.stages import assemble_audiolm, generator_stages, stage_kind

KINDS = ("piano", "speech")


@dataclass
class StageRecipe:
    """Shape and optimisation of one stage. ``layout``: "flat", "delay" or "multiscale" (see :mod:`audiolm_lib.lm`;
    sequential stages only: the parallel model has no layout)."""

    steps: int = 2000
    minutes: float = 10.0
    batch_size: int = 16
    crop_seconds: float = 4.0
    lr: float = 1e-3
    layout: str = "flat"
    transformer: TransformerConfig = field(default_factory=lambda: TransformerConfig(dim=128, depth=3, heads=4, max_seq_len=1024))


@dataclass
class RecipeConfig:
    """Everything the recipe needs; ``minutes`` fields are wall-clock limits of the training phases.

    Attributes:
        kind: "piano" (music21 corpus rendered with a soundfont) or "speech" (offline TTS voices).
        data_minutes: minutes of audio to build.
        codec_arch: "spectral" (the frame-rate :class:`~audiolm_lib.codecs.spectral.SpectralCodec`, config in
            ``spectral_codec``; it won the codec table of BENCHMARKS.md) or "soundstream" (the paper baseline, config
            in ``codec``); or ``codec_dir``: a trained codec folder to reuse instead.
        tokenizer_features / tokenizer_clusters: semantic tokenizer = these features + k-means.
        acoustic_generator: "parallel" (one SoundStorm-style model over every codec level; what ships) or
            "hierarchical" (the paper's coarse + fine stages).
        num_coarse_quantizers / num_fine_quantizers: RVQ levels of the coarse and fine stages ("hierarchical").
        semantic / parallel / coarse / fine: each stage's shape and optimisation (only those of the generator train).
    """

    kind: str = "piano"
    data_minutes: float = 20.0
    clip_seconds: float = 10.0
    valid_fraction: float = 0.05
    max_speakers: int | None = None
    codec_arch: str = "spectral"
    codec: SoundStreamConfig = field(default_factory=lambda: SoundStreamConfig(
        channels=16, latent_dim=64, num_quantizers=8, codebook_size=256))
    spectral_codec: SpectralCodecConfig = field(default_factory=SpectralCodecConfig)
    codec_dir: str | None = None
    codec_steps: int = 3000
    codec_minutes: float = 15.0
    codec_batch_size: int = 8
    codec_segment_seconds: float = 1.0  # a whole number of hops (320 samples)
    codec_adversarial: bool = False
    tokenizer_features: str = "mfcc"
    tokenizer_clusters: int = 128
    acoustic_generator: str = "parallel"
    num_coarse_quantizers: int = 4
    num_fine_quantizers: int = 4
    semantic: StageRecipe = field(default_factory=lambda: StageRecipe(crop_seconds=8.0))
    parallel: StageRecipe = field(default_factory=lambda: StageRecipe(crop_seconds=6.0))
    coarse: StageRecipe = field(default_factory=lambda: StageRecipe(crop_seconds=4.0, layout="delay"))
    fine: StageRecipe = field(default_factory=lambda: StageRecipe(crop_seconds=2.0, layout="delay"))
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.codec_arch not in ("spectral", "soundstream"):
            raise ValueError(f"codec_arch must be 'spectral' or 'soundstream', got {self.codec_arch!r}")
        generator_stages(self.acoustic_generator)  # a known generator
        levels = self.codec_config.num_quantizers
        if self.acoustic_generator == "hierarchical" and self.num_coarse_quantizers + self.num_fine_quantizers > levels:
            raise ValueError(f"{self.num_coarse_quantizers} coarse + {self.num_fine_quantizers} fine levels exceed "
                             f"the codec's {levels}")

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages this recipe trains: the semantic one, then those of its acoustic generator."""
        return ("semantic",) + generator_stages(self.acoustic_generator)

    @property
    def codec_config(self):
        """The config of the codec to train (``spectral_codec`` or ``codec``, by ``codec_arch``)."""
        return self.spectral_codec if self.codec_arch == "spectral" else self.codec

    @classmethod
    def small(cls, kind: str, budget_minutes: float = 60.0) -> "RecipeConfig":
        """The shipped-checkpoint size; ``budget_minutes`` of training split between codec and stages."""
        config = cls(kind=kind, data_minutes=min(20.0, max(3.0, budget_minutes / 2)))
        if kind == "piano":
            config.tokenizer_features = "logmel"  # pitch matters for piano; MFCCs smear it
        config.set_budget(budget_minutes)
        return config

    @classmethod
    def tiny(cls, kind: str) -> "RecipeConfig":
        """Seconds-scale: a few clips, a 2-level codec, one-block stages (tests and smoke runs)."""
        small_shape = TransformerConfig(dim=32, depth=1, heads=2, max_seq_len=512)
        stage = lambda crop, layout="flat": StageRecipe(steps=4, minutes=1.0, batch_size=2, crop_seconds=crop,  # noqa: E731
                                                        layout=layout, transformer=small_shape)
        return cls(kind=kind, data_minutes=0.5, clip_seconds=4.0, valid_fraction=0.3, max_speakers=2,
                   spectral_codec=SpectralCodecConfig(dim=16, encoder_depth=1, decoder_depth=1, upsampler_dim=8,
                                                      upsampler_depth=1, latent_dim=16, num_quantizers=2,
                                                      codebook_size=32, phase_iterations=2),
                   codec_steps=3, codec_batch_size=2, codec_segment_seconds=0.4, tokenizer_clusters=8,
                   num_coarse_quantizers=1, num_fine_quantizers=1, semantic=stage(2.0), parallel=stage(1.0),
                   coarse=stage(1.0, "delay"), fine=stage(1.0, "delay"))

    def set_budget(self, minutes: float) -> "RecipeConfig":
        """Share ``minutes`` of training: codec 30 %, semantic 25 %, the acoustic generator 45 % (coarse 30 % + fine
        15 %); without a codec to train, the stages share all of it."""
        if minutes <= 0:
            raise ValueError(f"budget minutes must be positive, got {minutes}")
        shares = {"semantic": 0.25, **({"parallel": 0.45} if self.acoustic_generator == "parallel"
                                       else {"coarse": 0.30, "fine": 0.15})}
        codec_share = 0.0 if self.codec_dir else 0.30
        scale = 1.0 / (sum(shares.values()) + codec_share)
        self.codec_minutes = minutes * codec_share * scale
        for name, share in shares.items():
            getattr(self, name).minutes = minutes * share * scale
        return self


# ------------------------------------------------------------------------------------------------ phases
def build_data(config: RecipeConfig, data_dir: str | os.PathLike, progress: bool = True) -> Path:
    """Render (piano) or synthesise (speech) ``config.data_minutes`` into ``data_dir``; returns the manifest."""
    data_dir = Path(data_dir)
    if config.kind == "piano":
        from audiolm_lib.datasets.piano import build_piano_dataset

        return build_piano_dataset(data_dir, minutes=config.data_minutes, clip_seconds=config.clip_seconds,
                                   seed=config.seed, valid_fraction=config.valid_fraction, workers=1,
                                   progress=progress)
    from audiolm_lib.datasets.speech import build_speech_dataset

    return build_speech_dataset(data_dir, minutes=config.data_minutes, speakers=config.max_speakers,
                                seed=config.seed, valid_fraction=config.valid_fraction, workers=1, progress=progress)


def split_files(manifest: str | os.PathLike, split: str) -> list[Path]:
    """Audio paths of one split of a manifest (``"train"`` or ``"valid"``)."""
    from audiolm_lib.datasets.manifest import read_manifest

    return [Path(e["audio"]) for e in read_manifest(manifest) if e.get("split", "train") == split]


def train_small_codec(config: RecipeConfig, audio_files: list[Path], out_dir: str | os.PathLike,
                      progress: bool = True):
    """Train ``config.codec_arch`` for ``codec_steps`` or ``codec_minutes``; returns the exported EMA codec.

    The spectral codec trains on STFT-grid losses (no GAN); the SoundStream on reconstruction losses unless
    ``codec_adversarial`` (the GAN roughly doubles a CPU step).
    """
    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.training.codec_trainer import CodecTrainConfig, CodecTrainer
    from audiolm_lib.training.distributed import owned_process_group

    out_dir = Path(out_dir)
    export = out_dir / "codec"
    if (export / "config.json").exists():
        return load_pretrained(export)
    if not audio_files:
        raise ValueError("no training audio for the codec")
    steps = config.codec_steps
    train_config = CodecTrainConfig(
        arch=config.codec_arch, codec=config.codec, spectral=config.spectral_codec, steps=steps,
        batch_size=config.codec_batch_size, segment_seconds=config.codec_segment_seconds, lr=1e-3,
        betas=(0.9, 0.99) if config.codec_arch == "spectral" else (0.5, 0.9), warmup_steps=min(200, steps // 10),
        adversarial_start_step=0 if config.codec_adversarial else steps + 1,
        stft_fft_sizes=(1024, 512, 256, 128), mel_fft_sizes=(1024, 512, 256),
        ema_decay=0.99, ema_warmup_steps=min(100, steps), eval_every=None, checkpoint_every=None,
        log_every=max(1, min(50, steps)), eval_segments=4, seed=config.seed, device="cpu",
        budget_minutes=config.codec_minutes)
    with owned_process_group():
        CodecTrainer(train_config, list(audio_files), out_dir).fit(progress=progress)
    return load_pretrained(export)


def fit_small_tokenizer(config: RecipeConfig, audio_files: list[Path], out_dir: str | os.PathLike,
                        progress: bool = True):
    """Fit ``tokenizer_features`` + k-means(``tokenizer_clusters``) on the train audio; cached in ``out_dir``."""
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer, fit_tokenizer

    out_dir = Path(out_dir)
    if (out_dir / "config.json").exists():
        return SemanticTokenizer.from_pretrained(out_dir)
    tokenizer = fit_tokenizer([str(f) for f in audio_files], config.tokenizer_features, config.tokenizer_clusters,
                              seed=config.seed, progress=progress)
    tokenizer.save_pretrained(out_dir)
    return tokenizer


def stage_train_config(config: RecipeConfig, stage: str):
    """The :class:`~audiolm_lib.training.config.StageTrainConfig` of one stage of the recipe."""
    from audiolm_lib.training.config import StageTrainConfig

    recipe: StageRecipe = getattr(config, stage)
    model: dict = {"transformer": dataclasses.asdict(recipe.transformer)}
    if "layout" in stage_kind(stage).classes()[1].__dataclass_fields__:
        model["layout"] = recipe.layout
    if stage in ("coarse", "fine"):
        model["num_coarse_quantizers"] = config.num_coarse_quantizers
    if stage == "fine":
        model["num_fine_quantizers"] = config.num_fine_quantizers
    return StageTrainConfig(
        stage=stage, model=model, crop_seconds=recipe.crop_seconds, min_crop_seconds=min(1.0, recipe.crop_seconds),
        batch_size=recipe.batch_size, lr=recipe.lr, warmup_steps=min(100, max(1, recipe.steps // 10)),
        steps=recipe.steps, ema_decay=0.99, ema_warmup_steps=min(50, recipe.steps),
        log_every=max(1, min(25, recipe.steps)), eval_every=None, eval_batches=4, sample_every=None,
        checkpoint_every=None, budget_minutes=recipe.minutes, precision="fp32", seed=config.seed, device="cpu",
        progress=False, tensorboard=False)


def train_small_stage(config: RecipeConfig, stage: str, cache, out_dir: str | os.PathLike, progress: bool = True):
    """Train one stage for its steps or minutes, whichever ends first (the stage trainer's own loop); returns the
    EMA model (exported to ``out_dir/model``) and writes ``out_dir/result.json`` (steps run, final train and
    validation loss)."""
    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.training.trainer import StageTrainer

    out_dir = Path(out_dir)
    if (out_dir / "model" / "config.json").exists():
        return load_pretrained(out_dir / "model")
    train_config = dataclasses.replace(stage_train_config(config, stage), progress=progress)
    trainer = StageTrainer(train_config, cache, out_dir)
    started = time.monotonic()
    trainer.train()
    valid = trainer.evaluate()
    trainer.export()
    tail = trainer.logged_losses[-20:] or [float("nan")]
    result = {"stage": stage, "steps": trainer.step, "seconds": round(time.monotonic() - started, 1),
              "train_loss": sum(tail) / len(tail), "valid_loss": valid.get("ema_loss")}
    atomic_write_text(out_dir / "result.json", json.dumps(result, indent=2) + "\n")
    return load_pretrained(out_dir / "model")


def prepare_tokens(config: RecipeConfig, work_dir: str | os.PathLike, *, manifest: str | os.PathLike | None = None,
                   progress: bool = True):
    """Data, codec, tokenizer and token cache (each reused when ``work_dir`` already holds it).

    Returns ``(tokenizer, codec, cache)``; the stages can then train on ``cache`` in parallel processes.
    """
    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.training.token_cache import TokenCache, build_token_cache

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    atomic_write_text(work_dir / "recipe.json", json.dumps(dataclasses.asdict(config), indent=2) + "\n")
    manifest = Path(manifest) if manifest is not None else build_data(config, work_dir / "data", progress)
    train_files = split_files(manifest, "train")
    if not train_files:
        raise ValueError(f"{manifest} has no train-split audio")
    if config.codec_dir:
        codec = load_pretrained(config.codec_dir)
    else:
        codec = train_small_codec(config, train_files, work_dir / "codec_run", progress)
    codec.eval()
    tokenizer = fit_small_tokenizer(config, train_files, work_dir / "tokenizer", progress).eval()
    cache_dir = work_dir / "tokens"
    cache = (TokenCache(cache_dir) if (cache_dir / "header.json").exists()
             else build_token_cache(manifest, cache_dir, tokenizer, codec, progress=progress))
    return tokenizer, codec, cache


def run_recipe(config: RecipeConfig, work_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
               *, manifest: str | os.PathLike | None = None, progress: bool = True):
    """The whole recipe; returns the ``AudioLM`` (also saved to ``out_dir``, default ``work_dir/model``).

    ``manifest``: train on your own indexed audio (``audiolm data index``) instead of building ``config.kind``.
    """
    work_dir = Path(work_dir)
    tokenizer, codec, cache = prepare_tokens(config, work_dir, manifest=manifest, progress=progress)
    stages = {stage: train_small_stage(config, stage, cache, work_dir / f"stage_{stage}", progress).eval()
              for stage in config.stages}
    model = assemble_audiolm(tokenizer, codec, stages).eval()
    model.save_pretrained(Path(out_dir) if out_dir is not None else work_dir / "model")
    return model
