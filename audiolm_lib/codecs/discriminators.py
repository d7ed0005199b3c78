"""Discriminators for codec training: multi-scale waveform (MelGAN), multi-scale STFT (SoundStream /
EnCodec), and a multi-band discriminator on a log-magnitude spectrogram (for the SpectralCodec, whose decoder
writes magnitudes, not waves). Each returns, per sub-discriminator, its logits and its intermediate activations
(for the feature-matching loss).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

Logits = list[torch.Tensor]
Features = list[list[torch.Tensor]]


@dataclass
class DiscriminatorConfig:
    """Sizes of the two discriminator families.

    wave_scales: waveform discriminators, each on audio average-pooled by a further factor 2.
    wave_channels / wave_max_channels: first width of the waveform discriminators and its cap.
    stft_ffts: FFT sizes of the STFT discriminators (hop = fft / 4).
    stft_channels: width of the STFT discriminators' 2-D convs.
    """

    wave_scales: int = 3
    wave_channels: int = 16
    wave_max_channels: int = 256
    stft_ffts: tuple[int, ...] = (1024, 512, 256)
    stft_channels: int = 32


class WaveDiscriminator(nn.Module):
    """MelGAN waveform discriminator: ``Tensor[B, 1, T]`` -> logits ``Tensor[B, 1, T']`` + activations."""

    def __init__(self, channels: int = 16, max_channels: int = 256, downsample_layers: int = 4):
        super().__init__()
        layers = [weight_norm(nn.Conv1d(1, channels, 15, padding=7))]
        width = channels
        for _ in range(downsample_layers):
            out = min(width * 4, max_channels)
            groups = max(1, width // 4)
            layers.append(weight_norm(nn.Conv1d(width, out, 41, stride=4, padding=20, groups=groups)))
            width = out
        layers.append(weight_norm(nn.Conv1d(width, width, 5, padding=2)))
        self.layers = nn.ModuleList(layers)
        self.output = weight_norm(nn.Conv1d(width, 1, 3, padding=1))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        x = wave
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            features.append(x)
        return self.output(x), features


class STFTDiscriminator(nn.Module):
    """2-D conv net on the complex STFT (real and imaginary parts as two channels).

    ``Tensor[B, 1, T]`` -> logits ``Tensor[B, 1, frames', bins']`` + activations.
    """

    def __init__(self, n_fft: int = 1024, channels: int = 32, dilations: Sequence[int] = (1, 2, 4)):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = n_fft // 4
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        layers = [weight_norm(nn.Conv2d(2, channels, (3, 9), padding=(1, 4)))]
        for dilation in dilations:
            # time is dilated, frequency is strided (SoundStream Fig. 4 / EnCodec MS-STFTD)
            layers.append(weight_norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2),
                                                dilation=(dilation, 1), padding=(dilation, 4))))
        layers.append(weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))))
        self.layers = nn.ModuleList(layers)
        self.output = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(wave.reshape(-1, wave.shape[-1]), self.n_fft, self.hop_length,
                          window=self.window.to(wave.dtype), return_complex=True)
        x = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)  # [B, 2, frames, bins]
        features = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            features.append(x)
        return self.output(x), features


class CodecDiscriminator(nn.Module):
    """All sub-discriminators together: ``Tensor[B, 1, T]`` -> (list of logits, list of activation lists)."""

    def __init__(self, config: DiscriminatorConfig | None = None):
        super().__init__()
        self.config = config = config or DiscriminatorConfig()
        self.wave = nn.ModuleList(
            WaveDiscriminator(config.wave_channels, config.wave_max_channels) for _ in range(config.wave_scales)
        )
        self.stft = nn.ModuleList(STFTDiscriminator(n_fft, config.stft_channels) for n_fft in config.stft_ffts)

    def forward(self, wave: torch.Tensor) -> tuple[Logits, Features]:
        logits, features = [], []
        scaled = wave
        for index, discriminator in enumerate(self.wave):
            if index > 0:
                scaled = F.avg_pool1d(scaled, 4, stride=2, padding=1, count_include_pad=False)
            out, feats = discriminator(scaled)
            logits.append(out)
            features.append(feats)
        for discriminator in self.stft:
            out, feats = discriminator(wave)
            logits.append(out)
            features.append(feats)
        return logits, features


@dataclass
class SpectrogramDiscriminatorConfig:
    """A multi-band discriminator on normalised log-magnitude spectrograms ``Tensor[B, bins, N]``.

    band_edges: band limits as fractions of the bins (DAC's multi-band split: the low bands, where the harmonics
        of the voice are, get sub-discriminators of their own).
    channels: width of each band's 2-D convs; layers: strided (in frequency) conv layers per band.
    """

    band_edges: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
    channels: int = 16
    layers: int = 4

    def __post_init__(self) -> None:
        edges = tuple(float(e) for e in self.band_edges)
        if len(edges) < 2 or edges[0] != 0.0 or edges[-1] != 1.0 or any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError(f"band_edges must rise strictly from 0 to 1, got {self.band_edges}")
        if self.channels < 1 or self.layers < 1:
            raise ValueError("SpectrogramDiscriminatorConfig: channels and layers must be positive")
        self.band_edges = edges


class BandDiscriminator(nn.Module):
    """2-D convs over one frequency band: ``Tensor[B, 1, N, bins']`` -> logits ``Tensor[B, 1, N', bins'']``.

    The first conv keeps the time resolution and halves the frequency one; the later ones halve both. Strided time
    keeps a CPU step cheap (a full-resolution 32-channel stack cost 4.5 s per batch of 8 x 1 s on one thread); the
    harmonic patterns it must judge lie along frequency.
    """

    def __init__(self, channels: int, layers: int):
        super().__init__()
        convs = [weight_norm(nn.Conv2d(1, channels, (3, 9), stride=(1, 2), padding=(1, 4)))]
        for _ in range(layers - 1):
            convs.append(weight_norm(nn.Conv2d(channels, channels, (3, 5), stride=(2, 2), padding=(1, 2))))
        convs.append(weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))))
        self.layers = nn.ModuleList(convs)
        self.output = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.1)
            features.append(x)
        return self.output(x), features


class SpectrogramDiscriminator(nn.Module):
    """One :class:`BandDiscriminator` per band of a normalised log-magnitude ``Tensor[B, bins, N]``.

    Returns (list of logits, list of activation lists), one entry per band, like :class:`CodecDiscriminator`.
    """

    def __init__(self, bins: int, config: SpectrogramDiscriminatorConfig | None = None):
        super().__init__()
        self.config = config = config or SpectrogramDiscriminatorConfig()
        edges = [round(fraction * bins) for fraction in config.band_edges]
        self.bands = [(a, b) for a, b in zip(edges, edges[1:]) if b > a]
        self.discriminators = nn.ModuleList(BandDiscriminator(config.channels, config.layers) for _ in self.bands)

    def forward(self, log_magnitude: torch.Tensor) -> tuple[Logits, Features]:
        x = log_magnitude.transpose(1, 2).unsqueeze(1)  # [B, 1, N, bins]
        logits, features = [], []
        for (low, high), discriminator in zip(self.bands, self.discriminators):
            out, feats = discriminator(x[..., low:high])
            logits.append(out)
            features.append(feats)
        return logits, features
