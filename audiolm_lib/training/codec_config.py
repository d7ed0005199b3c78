"""The configuration of a codec training run (:class:`CodecTrainConfig`), apart from the trainer so that the
objectives (:mod:`audiolm_lib.training.codec_objectives`) can read it without importing the trainer."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from audiolm_lib.codecs.discriminators import DiscriminatorConfig, SpectrogramDiscriminatorConfig
from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig

# arch -> (model class, the CodecTrainConfig field holding its config); the trainer adds each one's objective
CODEC_MODELS = {
    "soundstream": (SoundStream, "codec"),
    "spectral": (SpectralCodec, "spectral"),
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
    ``eval_every`` / ``checkpoint_every``: steps between evaluations / checkpoints; ``None``: never evaluate /
    checkpoint only at the end (or when the budget runs out). The names match :class:`~audiolm_lib.training.config.StageTrainConfig`'s.
    ``init_from``: a codec folder (same architecture) whose weights start the run; with ``train_decoder_only``
    the encoder and codebooks stay frozen, so the codes -- and language models trained on them -- stay valid
    while the decoder improves.
    ``prematch_share``: the share of items whose quantized latents are voice-matched within their crop before
    decoding (kNN-VC's prematched training, :mod:`audiolm_lib.training.prematch`; a spectral codec with
    ``train_decoder_only``): ``prematch_neighbours`` nearest frames more than ``prematch_exclude_frames`` away,
    moved a strength drawn in ``prematch_strength`` of the way, quantized again.
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
    checkpoint_every: int | None = 1000
    keep_checkpoints: int = 2
    log_every: int = 10
    eval_every: int | None = 500
    eval_segments: int = 8
    eval_fraction: float = 0.1
    seed: int = 0
    device: str | None = None
    budget_minutes: float | None = None
    init_from: str | None = None
    train_decoder_only: bool = False
    prematch_share: float = 0.0
    prematch_neighbours: int = 4
    prematch_exclude_frames: int = 10
    prematch_strength: tuple[float, float] = (0.5, 1.0)

    def __post_init__(self) -> None:
        if self.arch not in CODEC_MODELS:
            raise ValueError(f"CodecTrainConfig.arch must be one of {sorted(CODEC_MODELS)}, got {self.arch!r}")
        for name in ("steps", "batch_size", "checkpoint_every", "log_every", "eval_every", "eval_segments"):
            if getattr(self, name) is not None and int(getattr(self, name)) <= 0:
                raise ValueError(f"CodecTrainConfig.{name} must be positive, got {getattr(self, name)}")
        if self.segment_seconds <= 0:
            raise ValueError(f"CodecTrainConfig.segment_seconds must be positive, got {self.segment_seconds}")
        if self.prematch_share and not (self.arch == "spectral" and self.train_decoder_only):
            raise ValueError("CodecTrainConfig.prematch_share needs arch 'spectral' with train_decoder_only: the "
                             "prematched latents are detached, so only a decoder can learn from them")
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
        return getattr(self, CODEC_MODELS[self.arch][1])
