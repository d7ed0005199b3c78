"""SoundStream (Zeghidour et al. 2021): conv encoder -> residual VQ -> conv decoder.

Default: 16 kHz audio, strides (2, 4, 5, 8) -> hop 320 -> 50 Hz frames, 12 RVQ levels x 1024 codes
(6 kbps). Quantizer dropout during training (a random number of levels per batch) is what lets any
``1..Q`` leading levels decode.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from audiolm_lib.codecs.base import CodecBase
from audiolm_lib.codecs.modules import Decoder, Encoder
from audiolm_lib.codecs.rvq import ResidualVQ, RVQOutput
from audiolm_lib.serialization import PretrainedMixin


@dataclass
class SoundStreamConfig:
    """Architecture of a SoundStream codec.

    channels: encoder width after the first conv (doubles at every stride; the decoder mirrors it).
    strides: encoder down-sampling factors; their product is the hop length.
    latent_dim: size of the quantized frame vectors.
    causal: causal convolutions (streaming-friendly, exact chunked encoding).
    quantizer_dropout: train with a random number of levels so fewer levels still decode.
    codebook_decay: EMA decay of the codebooks; 0.99 suits large batches, small CPU batches (a few hundred
        frames per step) keep more codes alive with 0.9.
    dead_code_threshold: EMA usage below which a code is re-seeded from the batch.
    """

    sample_rate: int = 16000
    channels: int = 32
    strides: tuple[int, ...] = (2, 4, 5, 8)
    latent_dim: int = 256
    num_quantizers: int = 12
    codebook_size: int = 1024
    causal: bool = True
    quantizer_dropout: bool = True
    codebook_decay: float = 0.99
    dead_code_threshold: float = 0.05
    kmeans_iterations: int = 10

    def __post_init__(self) -> None:
        self.strides = tuple(int(s) for s in self.strides)
        for name in ("sample_rate", "channels", "latent_dim", "num_quantizers", "codebook_size"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"SoundStreamConfig.{name} must be positive, got {getattr(self, name)}")
        if not self.strides or any(s <= 0 for s in self.strides):
            raise ValueError(f"SoundStreamConfig.strides must be positive integers, got {self.strides}")


@dataclass
class SoundStreamOutput:
    """Training forward pass result.

    audio: ``Tensor[B, 1, T]`` reconstruction; codes: ``LongTensor[B, Q', F]``;
    commitment_loss: scalar; perplexity: ``Tensor[Q']`` codebook usage per level.
    """

    audio: torch.Tensor
    codes: torch.Tensor
    commitment_loss: torch.Tensor
    perplexity: torch.Tensor


class SoundStream(CodecBase, nn.Module, PretrainedMixin):
    """The codec. ``encode``: ``Tensor[B, 1, T]`` -> ``LongTensor[B, Q, F]``; ``decode`` inverts it."""

    config_class = SoundStreamConfig

    def __init__(self, config: SoundStreamConfig | None = None):
        super().__init__()
        self.config = config = config or SoundStreamConfig()
        self.encoder = Encoder(config.channels, config.strides, config.latent_dim, config.causal)
        self.quantizer = ResidualVQ(config.latent_dim, config.num_quantizers, config.codebook_size,
                                    decay=config.codebook_decay, dead_code_threshold=config.dead_code_threshold,
                                    kmeans_iterations=config.kmeans_iterations)
        self.decoder = Decoder(config.channels, config.strides, config.latent_dim, config.causal)

    # ------------------------------------------------------------------------------ protocol attributes
    @property
    def hop_length(self) -> int:
        return math.prod(self.config.strides)

    @property
    def receptive_field(self) -> int:
        """Input samples that determine one code frame (the encoder's span)."""
        return self.encoder.receptive_field()

    # ------------------------------------------------------------------------------ training forward
    def forward(self, wave: torch.Tensor, num_levels: int | None = None) -> SoundStreamOutput:
        """Encode, quantize (EMA codebook updates in training mode) and decode ``Tensor[B, 1, T]``.

        ``num_levels``: RVQ levels to use; default a random ``1..Q`` in training when quantizer dropout
        is on, else all of them.
        """
        wave = self._check_wave(wave)
        if num_levels is None:
            if self.training and self.config.quantizer_dropout:
                num_levels = int(torch.randint(1, self.num_quantizers + 1, ()).item())
            else:
                num_levels = self.num_quantizers
        latent = self.encoder(wave)
        result: RVQOutput = self.quantizer(latent, num_levels)
        audio = self.decoder(result.quantized)
        return SoundStreamOutput(audio, result.codes, result.commitment_loss, result.perplexity)

    # ------------------------------------------------------------------------------ inference
    @torch.inference_mode()
    def encode(self, wave: torch.Tensor, num_levels: int | None = None) -> torch.Tensor:
        """``Tensor[B, 1, T]`` -> ``LongTensor[B, Q, F]``, ``F = ceil(T / hop_length)`` (right zero-padded)."""
        wave = self._check_wave(wave)
        return self.quantizer.encode(self.encoder(wave.to(self._device())), num_levels)

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``LongTensor[B, Q', F]`` (any ``1..Q`` leading levels) -> ``Tensor[B, 1, F * hop_length]``."""
        codes = self._check_codes(codes).to(self._device())
        return self.decoder(self.quantizer.decode(codes))

    @torch.inference_mode()
    def encode_chunked(self, wave: torch.Tensor, chunk_seconds: float = 10.0,
                       context_seconds: float | None = None) -> torch.Tensor:
        """Encode a long ``Tensor[B, 1, T]`` piece by piece with bounded memory.

        Each chunk is encoded with ``context_seconds`` of preceding audio (and, for non-causal models, as
        much following audio) whose frames are dropped. With the default context -- the encoder's receptive
        field -- a causal model gives exactly the codes of whole-file encoding.
        """
        hop = self.hop_length
        if context_seconds is None:
            context = math.ceil(self.receptive_field / hop) * hop
        else:
            context = math.ceil(context_seconds * self.sample_rate / hop) * hop
        return self._encode_in_chunks(wave, chunk_seconds, context, 0 if self.config.causal else context)
