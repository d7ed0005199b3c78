"""Convolutional building blocks of the SoundStream encoder and decoder (causal or centred padding).

Every conv records its kernel, stride and dilation so the encoder can report its receptive field,
which is what chunked encoding needs to know how much left context makes chunks exact.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class PaddedConv1d(nn.Conv1d):
    """``Conv1d`` whose output has ``ceil(T / stride)`` frames.

    causal: all padding on the left (output frame ``t`` sees input up to ``(t + 1) * stride - 1``).
    otherwise: padding split between both sides (centred receptive field).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, causal: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation)
        self.causal = causal

    @property
    def total_padding(self) -> int:
        effective_kernel = (self.kernel_size[0] - 1) * self.dilation[0] + 1
        return effective_kernel - self.stride[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, C_in, T]`` (``T`` a multiple of stride) -> ``Tensor[B, C_out, T / stride]``."""
        pad = self.total_padding
        left = pad if self.causal else pad - pad // 2
        return super().forward(F.pad(x, (left, pad - left)))


class PaddedConvTranspose1d(nn.ConvTranspose1d):
    """Upsampling transposed conv with exactly ``T * stride`` output samples (overhang trimmed)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, causal: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride)
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, C_in, T]`` -> ``Tensor[B, C_out, T * stride]``."""
        y = super().forward(x)
        overhang = self.kernel_size[0] - self.stride[0]
        # causal: trim the right so output sample t never depends on a later frame
        left = 0 if self.causal else overhang // 2
        return y[..., left:y.shape[-1] - (overhang - left)]


class ResidualUnit(nn.Module):
    """ELU -> dilated conv (k=7) -> ELU -> 1x1 conv, added to the input (SoundStream Fig. 2)."""

    def __init__(self, channels: int, dilation: int, causal: bool):
        super().__init__()
        self.block = nn.Sequential(
            nn.ELU(),
            PaddedConv1d(channels, channels, 7, dilation=dilation, causal=causal),
            nn.ELU(),
            PaddedConv1d(channels, channels, 1, causal=causal),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class EncoderBlock(nn.Module):
    """Three residual units (dilations 1, 3, 9) then a strided conv doubling the channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, causal: bool):
        super().__init__()
        self.block = nn.Sequential(
            *[ResidualUnit(in_channels, d, causal) for d in (1, 3, 9)],
            nn.ELU(),
            PaddedConv1d(in_channels, out_channels, 2 * stride, stride=stride, causal=causal),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class DecoderBlock(nn.Module):
    """A transposed conv halving the channels, then three residual units (dilations 1, 3, 9)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, causal: bool):
        super().__init__()
        self.block = nn.Sequential(
            nn.ELU(),
            PaddedConvTranspose1d(in_channels, out_channels, 2 * stride, stride, causal=causal),
            *[ResidualUnit(out_channels, d, causal) for d in (1, 3, 9)],
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Encoder(nn.Module):
    """``Tensor[B, 1, T]`` -> ``Tensor[B, D, T / prod(strides)]`` latent frames."""

    def __init__(self, channels: int, strides: Sequence[int], latent_dim: int, causal: bool):
        super().__init__()
        layers: list[nn.Module] = [PaddedConv1d(1, channels, 7, causal=causal)]
        width = channels
        for stride in strides:
            layers.append(EncoderBlock(width, width * 2, stride, causal))
            width *= 2
        layers += [nn.ELU(), PaddedConv1d(width, latent_dim, 3, causal=causal)]
        self.layers = nn.Sequential(*layers)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.layers(wave)

    def receptive_field(self) -> int:
        """Input samples one output frame depends on (span of all convs, in input samples)."""
        span, jump = 1, 1
        for module in self.modules():
            if isinstance(module, PaddedConv1d):
                span += (module.kernel_size[0] - 1) * module.dilation[0] * jump
                jump *= module.stride[0]
        return span


class Decoder(nn.Module):
    """``Tensor[B, D, F]`` latent frames -> ``Tensor[B, 1, F * prod(strides)]`` audio."""

    def __init__(self, channels: int, strides: Sequence[int], latent_dim: int, causal: bool):
        super().__init__()
        width = channels * 2 ** len(strides)
        layers: list[nn.Module] = [PaddedConv1d(latent_dim, width, 7, causal=causal)]
        for stride in reversed(tuple(strides)):
            layers.append(DecoderBlock(width, width // 2, stride, causal))
            width //= 2
        layers += [nn.ELU(), PaddedConv1d(width, 1, 7, causal=causal)]
        self.layers = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.layers(latent)
