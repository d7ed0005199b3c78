"""Codec losses: multi-resolution STFT, multi-scale mel, adversarial (hinge), feature matching, and EnCodec's
gradient balancer.

All reconstruction losses take ``(estimate, target)`` ``Tensor[B, 1, T]`` (or ``Tensor[B, T]``) pairs of equal
shape, as torch losses do. The spectrograms, the mel filterbank and the quality metrics (SI-SDR, mel distance)
are :mod:`audiolm_lib.measures`' (shared with the evaluation reports).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiolm_lib.measures import log_mel, mel_filterbank, stft_magnitude


class MelSpectrogram(nn.Module):
    """``Tensor[..., T]`` -> log-mel ``Tensor[..., n_mels, frames]``: :func:`audiolm_lib.measures.log_mel` with its
    filterbank kept as a buffer."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int, hop_length: int | None = None):
        super().__init__()
        self.sample_rate, self.n_fft, self.n_mels = sample_rate, n_fft, n_mels
        self.hop_length = hop_length or n_fft // 4
        self.register_buffer("filters", mel_filterbank(sample_rate, n_fft, min(n_mels, n_fft // 4)), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return log_mel(wave, self.sample_rate, self.n_fft, self.hop_length, self.n_mels, filters=self.filters)


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
            MelSpectrogram(sample_rate, n_fft, n_mels) for n_fft in fft_sizes
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
