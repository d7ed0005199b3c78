"""Discriminators for codec training: multi-scale waveform (MelGAN) and multi-scale STFT (SoundStream /
EnCodec). Each returns, per sub-discriminator, its logits and its intermediate activations (for the
feature-matching loss).
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
