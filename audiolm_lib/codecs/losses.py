"""Codec losses and quality metrics: multi-resolution STFT, mel, adversarial (hinge), feature matching,
SI-SDR, and EnCodec's gradient balancer.

All reconstruction losses take ``Tensor[B, 1, T]`` (or ``Tensor[B, T]``) pairs of equal shape.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _flat(wave: torch.Tensor) -> torch.Tensor:
    return wave.reshape(-1, wave.shape[-1])


def stft_magnitude(wave: torch.Tensor, n_fft: int, hop_length: int | None = None) -> torch.Tensor:
    """``Tensor[..., T]`` -> ``Tensor[B', n_fft // 2 + 1, frames]`` magnitudes (Hann window)."""
    hop_length = hop_length or n_fft // 4
    window = torch.hann_window(n_fft, device=wave.device, dtype=wave.dtype)
    spec = torch.stft(_flat(wave), n_fft, hop_length, window=window, return_complex=True)
    return spec.abs()


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """HTK-mel triangular filters ``Tensor[n_mels, n_fft // 2 + 1]`` (area-normalised like Slaney)."""
    f_max = f_max or sample_rate / 2

    def hz_to_mel(f):
        return 2595.0 * math.log10(1.0 + f / 700.0)

    mel_points = torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2, dtype=torch.float64)
    hz_points = 700.0 * (10 ** (mel_points / 2595.0) - 1.0)
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    lower, centre, upper = hz_points[:-2, None], hz_points[1:-1, None], hz_points[2:, None]
    rising = (freqs[None] - lower) / (centre - lower)
    falling = (upper - freqs[None]) / (upper - centre)
    filters = torch.clamp(torch.minimum(rising, falling), min=0.0)
    filters = filters * (2.0 / (upper - lower))
    return filters.float()


class MelSpectrogram(nn.Module):
    """``Tensor[..., T]`` -> log-mel ``Tensor[B', n_mels, frames]``."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int, hop_length: int | None = None):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length or n_fft // 4
        self.register_buffer("filters", mel_filterbank(sample_rate, n_fft, n_mels), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        mel = self.filters @ stft_magnitude(wave, self.n_fft, self.hop_length)
        return torch.log(mel.clamp_min(1e-5))


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + L1 log-magnitude, averaged over FFT sizes (Yamamoto et al. 2020)."""

    def __init__(self, fft_sizes: Sequence[int] = (2048, 1024, 512, 256, 128)):
        super().__init__()
        self.fft_sizes = tuple(fft_sizes)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = estimate.new_zeros(())
        for n_fft in self.fft_sizes:
            est, ref = stft_magnitude(estimate, n_fft), stft_magnitude(target, n_fft)
            convergence = torch.linalg.norm(ref - est) / torch.linalg.norm(ref).clamp_min(1e-7)
            log_mag = F.l1_loss(torch.log(est.clamp_min(1e-5)), torch.log(ref.clamp_min(1e-5)))
            total = total + convergence + log_mag
        return total / len(self.fft_sizes)


class MultiScaleMelLoss(nn.Module):
    """L1 + L2 on log-mel spectrograms at several window sizes (EnCodec's reconstruction loss)."""

    def __init__(self, sample_rate: int, fft_sizes: Sequence[int] = (2048, 1024, 512, 256), n_mels: int = 64):
        super().__init__()
        self.mels = nn.ModuleList(
            MelSpectrogram(sample_rate, n_fft, min(n_mels, n_fft // 4)) for n_fft in fft_sizes
        )

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = estimate.new_zeros(())
        for mel in self.mels:
            est, ref = mel(estimate), mel(target)
            total = total + F.l1_loss(est, ref) + F.mse_loss(est, ref)
        return total / len(self.mels)


# ------------------------------------------------------------------------------------------- adversarial
def discriminator_hinge_loss(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]) -> torch.Tensor:
    """``mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))`` averaged over discriminators."""
    losses = [F.relu(1 - real).mean() + F.relu(1 + fake).mean() for real, fake in zip(real_logits, fake_logits)]
    return torch.stack(losses).mean()


def generator_adversarial_loss(fake_logits: list[torch.Tensor]) -> torch.Tensor:
    """Hinge generator loss ``mean(relu(1 - D(G(z))))`` averaged over discriminators."""
    return torch.stack([F.relu(1 - fake).mean() for fake in fake_logits]).mean()


def feature_matching_loss(real_features: list[list[torch.Tensor]],
                          fake_features: list[list[torch.Tensor]]) -> torch.Tensor:
    """Relative L1 between discriminator activations on real and reconstructed audio (EnCodec eq. 2)."""
    losses = []
    for real_layers, fake_layers in zip(real_features, fake_features):
        for real, fake in zip(real_layers, fake_layers):
            real = real.detach()
            losses.append(F.l1_loss(fake, real) / real.abs().mean().clamp_min(1e-6))
    return torch.stack(losses).mean()


# ------------------------------------------------------------------------------------------- metrics
def si_sdr(estimate: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant SDR in dB per item: ``Tensor[B, 1, T]`` pairs -> ``Tensor[B]``."""
    est, ref = _flat(estimate).double(), _flat(target).double()
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    scale = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + eps)
    projection = scale * ref
    noise = est - projection
    ratio = projection.pow(2).sum(-1) / (noise.pow(2).sum(-1) + eps)
    return (10 * torch.log10(ratio + eps)).float()


def mel_distance(estimate: torch.Tensor, target: torch.Tensor, sample_rate: int, n_fft: int = 1024,
                 n_mels: int = 80) -> torch.Tensor:
    """Mean absolute log-mel difference (lower is better): a scalar."""
    mel = MelSpectrogram(sample_rate, n_fft, n_mels).to(estimate.device)
    return F.l1_loss(mel(estimate), mel(target))


# ------------------------------------------------------------------------------------------- balancer
class LossBalancer:
    """EnCodec's gradient balancer: each loss gets a share of the gradient w.r.t. the generator output
    proportional to its weight, independent of the loss's natural scale.

    ``grad = sum_i w_i / sum(w) * total_norm * g_i / ema(||g_i||)`` where ``g_i = dloss_i / d output``.
    """

    def __init__(self, weights: dict[str, float], total_norm: float = 1.0, ema_decay: float = 0.999):
        self.weights = dict(weights)
        self.total_norm = total_norm
        self.ema_decay = ema_decay
        self.norm_sums: dict[str, float] = {}
        self.norm_count = 0.0

    def gradient(self, losses: dict[str, torch.Tensor], output: torch.Tensor) -> torch.Tensor:
        """The balanced gradient ``Tensor`` (shape of ``output``) to pass to ``output.backward``."""
        grads, norms = {}, {}
        for name, loss in losses.items():
            (grad,) = torch.autograd.grad(loss, [output], retain_graph=True)
            grads[name] = grad
            norms[name] = float(grad.reshape(grad.shape[0], -1).norm(dim=1).mean())
        # bias-corrected EMA of each gradient norm
        self.norm_count = self.ema_decay * self.norm_count + 1.0
        for name, norm in norms.items():
            self.norm_sums[name] = self.ema_decay * self.norm_sums.get(name, 0.0) + norm
        weight_total = sum(self.weights[name] for name in losses)
        combined = torch.zeros_like(output)
        for name, grad in grads.items():
            average_norm = self.norm_sums[name] / self.norm_count
            scale = self.weights[name] / weight_total * self.total_norm / (average_norm + 1e-12)
            combined = combined + scale * grad
        return combined

    def state_dict(self) -> dict:
        return {"norm_sums": dict(self.norm_sums), "norm_count": self.norm_count}

    def load_state_dict(self, state: dict) -> None:
        self.norm_sums = dict(state["norm_sums"])
        self.norm_count = float(state["norm_count"])
