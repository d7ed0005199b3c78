"""A frame-rate spectral codec: STFT in, ConvNeXt blocks at the code rate, residual quantizer, ConvNeXt decoder,
a head that predicts the STFT magnitude at a finer hop, and a phase from that magnitude (or learned).

SoundStream spends almost all its compute at the audio rate (16 000 conv steps per second); this codec runs its
blocks at 50 Hz and only the STFT at the audio rate, so a CPU-hour buys many more updates. Defaults follow
AudioLM's token layout: 16 kHz, 50 Hz frames (hop 320), 12 levels x 1024 codes.

::

    wave ─► STFT (n_fft 640, hop 80: 4 sub-frames per code frame) ─► log|X| ─► Conv1d ─► ConvNeXt x E ─► latent
         ─► residual quantizer (RVQ or residual FSQ) ─► codes LongTensor[B, Q, F]
    codes ─► latent ─► ConvNeXt x D (50 Hz) ─► x4 upsample ─► ConvNeXt x U (200 Hz) ─► log|X̂| [B, 321, 4F]
         ─► phase: reconstructed from |X̂| (phase-locked vocoder or PGHI, + fast Griffin-Lim)  or  learned (head)
         ─► inverse STFT ─► wave

``phase="reconstruct"`` trains on magnitudes only (no waveform, no discriminator: cheap steps) and spends every
bit on the magnitude; ``phase="learned"`` also feeds the encoder the phase and trains a phase head with APNet's
anti-wrapping phase losses (see :mod:`audiolm_lib.codecs.phase_losses`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from audiolm_lib.codecs.base import CodecBase
from audiolm_lib.codecs.convnext import ConvNeXtStack
from audiolm_lib.codecs.pghi import HANN_GAMMA, pghi_phase
from audiolm_lib.codecs.rvq import ResidualVQ, RVQOutput
from audiolm_lib.codecs.spectral_ops import SpectralFrontEnd, reconstruct_phase
from audiolm_lib.serialization import PretrainedMixin

QUANTIZERS = ("rvq", "rfsq")
# natural-log STFT magnitudes of audio in [-1, 1] span about [-11.5 (the floor), 6]: the encoder reads
# (log|X| - LOG_OFFSET) / LOG_SCALE and the head writes LOG_OFFSET + LOG_SCALE * y, so both sides work near unit
# scale (an unscaled head needed thousands of Adam steps just to move its bias to the silence floor)
LOG_OFFSET, LOG_SCALE = -4.0, 4.0
PHASE_MODES = ("reconstruct", "learned")
PHASE_STARTS = ("locked", "pghi")


@dataclass
class SpectralCodecConfig:
    """Architecture of a :class:`SpectralCodec`.

    hop_length: audio samples per code frame (320 at 16 kHz: 50 Hz codes).
    n_fft / stft_hop: the STFT the codec reads and writes; ``hop_length / stft_hop`` sub-frames per code frame.
    dim / encoder_depth / decoder_depth: width and depth of the ConvNeXt stacks at the code rate.
    upsampler_dim / upsampler_depth: the ConvNeXt stack at the STFT rate, before the head.
    latent_dim: size of the quantized frame vectors.
    quantizer: "rvq" (the library's EMA residual VQ, k-means initialised) or "rfsq" (residual FSQ).
    phase: "reconstruct" (phase from the decoded magnitude) or "learned" (a phase head).
    phase_iterations: fast Griffin-Lim iterations after the start ("reconstruct" only).
    phase_start: where a reconstructed phase starts: "locked" (each bin its nearest peak's phase, advanced at the
        peak's frequency) or "pghi" (phase gradient heap integration, :mod:`audiolm_lib.codecs.pghi`: keeps the
        periodicity of low voices whose harmonics the window does not resolve). Weights are the same for both.
    phase_tolerance: "pghi" only: coefficients quieter than this share of the loudest get phase 0 instead of an
        integrated one (a zero phase in every frame is a click per STFT hop in the quiet parts).
    phase_gamma: "pghi" only: the time-frequency ratio PGHI assumes, over ``n_fft ** 2`` (the Hann window's own:
        :data:`~audiolm_lib.codecs.pghi.HANN_GAMMA`). A decoder's magnitudes are smoother across frequency than a
        signal's, which flattens the slopes PGHI reads the phase from; a smaller ratio steepens them again.
    magnitude_floor: floor of the log-magnitude targets (the metrics' floor: silence is learned as silence).
    """

    sample_rate: int = 16000
    hop_length: int = 320
    n_fft: int = 640
    stft_hop: int = 80
    dim: int = 256
    encoder_depth: int = 4
    decoder_depth: int = 6
    upsampler_dim: int = 128
    upsampler_depth: int = 2
    mlp_ratio: float = 3.0
    latent_dim: int = 128
    quantizer: str = "rvq"
    num_quantizers: int = 12
    codebook_size: int = 1024
    quantizer_dropout: bool = True
    codebook_decay: float = 0.99
    dead_code_threshold: float = 0.05
    kmeans_iterations: int = 10
    phase: str = "reconstruct"
    phase_iterations: int = 8
    magnitude_floor: float = 1e-5
    phase_start: str = "locked"
    phase_tolerance: float = 1e-4
    phase_gamma: float = HANN_GAMMA

    def __post_init__(self) -> None:
        for name in ("sample_rate", "hop_length", "n_fft", "stft_hop", "dim", "upsampler_dim", "latent_dim",
                     "num_quantizers", "codebook_size"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"SpectralCodecConfig.{name} must be positive, got {getattr(self, name)}")
        if self.hop_length % self.stft_hop:
            raise ValueError(f"SpectralCodecConfig: hop_length {self.hop_length} must be a multiple of stft_hop {self.stft_hop}")
        if self.quantizer not in QUANTIZERS:
            raise ValueError(f"SpectralCodecConfig.quantizer must be one of {QUANTIZERS}, got {self.quantizer!r}")
        if self.phase not in PHASE_MODES:
            raise ValueError(f"SpectralCodecConfig.phase must be one of {PHASE_MODES}, got {self.phase!r}")
        if self.phase_start not in PHASE_STARTS:
            raise ValueError(f"SpectralCodecConfig.phase_start must be one of {PHASE_STARTS}, got {self.phase_start!r}")
        if not 0 <= self.phase_tolerance < 1:
            raise ValueError(f"SpectralCodecConfig.phase_tolerance must be in [0, 1), got {self.phase_tolerance}")
        if not self.phase_gamma > 0:
            raise ValueError(f"SpectralCodecConfig.phase_gamma must be positive, got {self.phase_gamma}")
        if self.phase_iterations < 0:
            raise ValueError(f"SpectralCodecConfig.phase_iterations must be >= 0, got {self.phase_iterations}")


@dataclass
class SpectralCodecOutput:
    """Training forward pass result (all on the STFT grid, ``N = F * sub_frames`` frames).

    log_magnitude: ``Tensor[B, bins, N]`` predicted natural-log magnitude; target_log_magnitude: the input's,
    floored. phase: ``Tensor[B, bins, N]`` predicted phase ("learned") or None; target: complex
    ``Tensor[B, bins, N]`` STFT of the input. codes: ``LongTensor[B, Q', F]``; commitment_loss: scalar;
    perplexity: ``Tensor[Q']``.
    """

    log_magnitude: torch.Tensor
    target_log_magnitude: torch.Tensor
    phase: torch.Tensor | None
    target: torch.Tensor
    codes: torch.Tensor
    commitment_loss: torch.Tensor
    perplexity: torch.Tensor


class SpectralCodec(CodecBase, nn.Module, PretrainedMixin):
    """The codec. ``encode``: ``Tensor[B, 1, T]`` -> ``LongTensor[B, Q, F]``; ``decode`` inverts it."""

    config_class = SpectralCodecConfig

    def __init__(self, config: SpectralCodecConfig | None = None):
        super().__init__()
        self.config = config = config or SpectralCodecConfig()
        self.front_end = SpectralFrontEnd(config.n_fft, config.stft_hop, config.hop_length)
        sub, bins = self.front_end.sub_frames, self.front_end.bins
        channels = 3 if config.phase == "learned" else 1  # log|X| (+ cos, sin of the phase)
        self.encoder_in = nn.Conv1d(channels * bins * sub, config.dim, kernel_size=1)
        self.encoder = ConvNeXtStack(config.dim, config.encoder_depth, config.mlp_ratio)
        self.encoder_out = nn.Conv1d(config.dim, config.latent_dim, kernel_size=1)
        self.quantizer = self._make_quantizer(config)
        self.decoder_in = nn.Conv1d(config.latent_dim, config.dim, kernel_size=7, padding=3)
        self.decoder = ConvNeXtStack(config.dim, config.decoder_depth, config.mlp_ratio)
        self.upsample = nn.Linear(config.dim, config.upsampler_dim * sub)
        self.upsampler = ConvNeXtStack(config.upsampler_dim, config.upsampler_depth, config.mlp_ratio)
        self.magnitude_head = nn.Linear(config.upsampler_dim, bins)
        self.phase_head = nn.Linear(config.upsampler_dim, 2 * bins) if config.phase == "learned" else None
        self.encoder_frozen = False

    def encoding_modules(self) -> tuple[nn.Module, ...]:
        """The modules that decide the codes (encoder and codebooks); the rest only decodes."""
        return self.encoder_in, self.encoder, self.encoder_out, self.quantizer

    def freeze_encoder(self) -> "SpectralCodec":
        """From now on train only the decoder side: the encoder and the codebooks (no EMA updates, no re-seeding)
        stay as they are, so every code -- and every language model trained on this codec's codes -- stays valid."""
        for module in self.encoding_modules():
            module.requires_grad_(False)
        self.encoder_frozen = True
        return self.train(self.training)

    def train(self, mode: bool = True) -> "SpectralCodec":
        super().train(mode)
        if self.encoder_frozen:
            for module in self.encoding_modules():
                module.eval()
        return self

    @staticmethod
    def _make_quantizer(config: SpectralCodecConfig) -> nn.Module:
        if config.quantizer == "rfsq":
            from audiolm_lib.codecs.fsq import ResidualFSQ

            return ResidualFSQ(config.latent_dim, config.num_quantizers, config.codebook_size)
        return ResidualVQ(config.latent_dim, config.num_quantizers, config.codebook_size, decay=config.codebook_decay,
                          dead_code_threshold=config.dead_code_threshold, kmeans_iterations=config.kmeans_iterations)

    # ------------------------------------------------------------------------------ protocol attributes
    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def context_frames(self) -> int:
        """Code frames on each side that influence one code frame of ``encode`` (STFT window included)."""
        window_frames = math.ceil(self.config.n_fft / 2 / self.hop_length)
        return self.encoder.context_frames + window_frames

    @property
    def receptive_field(self) -> int:
        """Input samples that determine one code frame (both sides together)."""
        return (2 * self.context_frames + 1) * self.hop_length

    # ------------------------------------------------------------------------------ network pieces
    def _log_magnitude(self, spec: torch.Tensor) -> torch.Tensor:
        return torch.log(spec.abs().clamp_min(self.config.magnitude_floor))

    def _encoder_input(self, spec: torch.Tensor) -> torch.Tensor:
        """complex ``Tensor[B, bins, N]`` -> ``Tensor[B, channels * bins * sub, F]``."""
        features = [(self._log_magnitude(spec) - LOG_OFFSET) / LOG_SCALE]
        if self.config.phase == "learned":
            angle = torch.angle(spec)
            features += [torch.cos(angle), torch.sin(angle)]
        x = torch.cat(features, dim=1)  # [B, C * bins, N]
        batch, width, frames = x.shape
        sub = self.front_end.sub_frames
        # the sub-frames of one code frame side by side: [B, C * bins, F, sub] -> [B, sub * C * bins, F]
        return x.view(batch, width, frames // sub, sub).permute(0, 3, 1, 2).reshape(batch, sub * width, frames // sub)

    def _latent(self, spec: torch.Tensor) -> torch.Tensor:
        return self.encoder_out(self.encoder(self.encoder_in(self._encoder_input(spec))))

    def _decode_features(self, quantized: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, latent, F]`` -> ``Tensor[B, N, upsampler_dim]`` features on the STFT grid."""
        x = self.decoder(self.decoder_in(quantized)).transpose(1, 2)  # [B, F, dim]
        batch, frames, _ = x.shape
        x = self.upsample(x).view(batch, frames * self.front_end.sub_frames, self.config.upsampler_dim)
        return self.upsampler(x.transpose(1, 2)).transpose(1, 2)  # [B, N, up]

    def _heads(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        log_magnitude = LOG_OFFSET + LOG_SCALE * self.magnitude_head(features).transpose(1, 2)  # [B, bins, N]
        phase = None
        if self.phase_head is not None:
            real, imag = self.phase_head(features).transpose(1, 2).chunk(2, dim=1)
            phase = torch.atan2(imag, real)  # APNet's parallel phase estimation
        return log_magnitude, phase

    def _synthesize(self, log_magnitude: torch.Tensor, phase: torch.Tensor | None,
                    prefix_phase: torch.Tensor | None = None) -> torch.Tensor:
        magnitude = torch.exp(log_magnitude.clamp(max=math.log(1e3)))  # a safeguard against huge magnitudes
        length = log_magnitude.shape[-1] * self.config.stft_hop
        if phase is None:
            start = None
            if self.config.phase_start == "pghi":
                start = pghi_phase(magnitude.transpose(1, 2), self.config.n_fft, self.config.stft_hop,
                                   gamma=self.config.phase_gamma, tolerance=self.config.phase_tolerance)
            return reconstruct_phase(magnitude, self.front_end, self.config.phase_iterations,
                                     prefix_phase=prefix_phase, initial_phase=start)
        return self.front_end.istft(torch.polar(magnitude, phase), length)

    # ------------------------------------------------------------------------------ training forward
    def forward(self, wave: torch.Tensor, num_levels: int | None = None,
                latent_transform=None) -> SpectralCodecOutput:
        """Encode, quantize and decode ``Tensor[B, 1, T]`` onto the STFT grid (no waveform synthesis).

        ``num_levels``: quantizer levels to use; default a random ``1..Q`` in training when quantizer dropout is
        on, else all of them. ``latent_transform``: ``(quantized Tensor[B, D, F], num_levels) -> Tensor[B, D, F]``
        applied before decoding, the target staying the input's spectrum (prematched decoder training,
        :mod:`audiolm_lib.training.prematch`).
        """
        wave = self._check_wave(wave)
        if num_levels is None:
            if self.training and self.config.quantizer_dropout:
                num_levels = int(torch.randint(1, self.num_quantizers + 1, ()).item())
            else:
                num_levels = self.num_quantizers
        spec = self.front_end.stft(wave)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.encoder_frozen):
            result: RVQOutput = self.quantizer(self._latent(spec), num_levels)
        quantized = result.quantized if latent_transform is None else latent_transform(result.quantized, num_levels)
        log_magnitude, phase = self._heads(self._decode_features(quantized))
        return SpectralCodecOutput(log_magnitude, self._log_magnitude(spec), phase, spec, result.codes,
                                   result.commitment_loss, result.perplexity)

    def synthesize(self, output: SpectralCodecOutput) -> torch.Tensor:
        """The wave of a training output: ``Tensor[B, 1, T]`` (for evaluation and waveform losses)."""
        return self._synthesize(output.log_magnitude, output.phase)

    # ------------------------------------------------------------------------------ inference
    @torch.inference_mode()
    def encode(self, wave: torch.Tensor, num_levels: int | None = None) -> torch.Tensor:
        """``Tensor[B, 1, T]`` -> ``LongTensor[B, Q, F]``, ``F = ceil(T / hop_length)`` (right zero-padded)."""
        wave = self._check_wave(wave).to(self._device())
        return self.quantizer.encode(self._latent(self.front_end.stft(wave)), num_levels)

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``LongTensor[B, Q', F]`` (any ``1..Q`` leading levels) -> ``Tensor[B, 1, F * hop_length]``."""
        codes = self._check_codes(codes).to(self._device())
        log_magnitude, phase = self._heads(self._decode_features(self.quantizer.decode(codes)))
        return self._synthesize(log_magnitude, phase)

    @torch.inference_mode()
    def decode_continuing(self, codes: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """:meth:`decode` of a chunk whose start overlaps audio already played, with phase continuity.

        ``codes``: ``LongTensor[B, Q', F]``; ``previous``: ``Tensor[B, 1, P]``, the audio already played for the
        chunk's first ``P`` samples (``P <= F * hop_length``), or None (then this is :meth:`decode`). With a
        reconstructed phase, the STFT frames that lie inside ``previous`` start from its phase, and the frames
        after them continue it (:func:`~audiolm_lib.codecs.spectral_ops.reconstruct_phase`'s ``prefix_phase``),
        so that a stream's chunks join without a phase jump. Returns ``Tensor[B, 1, F * hop_length]``.
        """
        codes = self._check_codes(codes).to(self._device())
        log_magnitude, phase = self._heads(self._decode_features(self.quantizer.decode(codes)))
        prefix = None
        if previous is not None and phase is None:
            hop, half = self.config.stft_hop, self.config.n_fft // 2
            inside = (previous.shape[-1] - half) // hop + 1  # frames whose whole window lies in ``previous``
            if inside > 0:
                usable = previous[..., : previous.shape[-1] // hop * hop].to(log_magnitude.dtype)
                prefix = torch.angle(self.front_end.stft_frames(usable.to(self._device()))[:, :inside])
        return self._synthesize(log_magnitude, phase, prefix)

    @torch.inference_mode()
    def encode_chunked(self, wave: torch.Tensor, chunk_seconds: float = 10.0) -> torch.Tensor:
        """Encode a long ``Tensor[B, 1, T]`` chunk by chunk with bounded memory; equals :meth:`encode`.

        Each chunk is encoded with :attr:`context_frames` frames of audio on both sides, whose codes are dropped.
        """
        context = self.context_frames * self.hop_length
        return self._encode_in_chunks(wave, chunk_seconds, context, context)
