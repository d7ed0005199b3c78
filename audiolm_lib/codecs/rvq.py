"""Residual vector quantization with EMA codebooks (SoundStream section 3.3).

Each level quantizes what the previous levels left over. Codebooks are buffers updated by an
exponential moving average of the vectors assigned to each code (not by gradients), initialised by
k-means on the first training batch; codes that stop being used are re-seeded from the batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    # statistics are summed over ranks so every rank applies the same codebook update
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor)
    return tensor


def kmeans(samples: torch.Tensor, num_clusters: int, iterations: int = 10) -> torch.Tensor:
    """Lloyd k-means seeded with random samples. ``Tensor[N, D]`` -> centroids ``Tensor[K, D]``.

    With fewer samples than clusters, samples are drawn with replacement (duplicates then split by the
    dead-code replacement once training sees more data).
    """
    num_samples = samples.shape[0]
    if num_samples <= num_clusters:
        picks = samples[torch.randint(0, num_samples, (num_clusters,), device=samples.device)]
        # jitter the repeats so ties break and each copy can drift to its own cluster
        return picks + 0.01 * samples.std(dim=0, keepdim=True) * torch.randn_like(picks)
    centroids = samples[torch.randperm(num_samples, device=samples.device)[:num_clusters]].clone()
    for _ in range(iterations):
        assignment = torch.cdist(samples, centroids).argmin(dim=1)
        counts = torch.bincount(assignment, minlength=num_clusters).to(samples.dtype)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, samples)
        used = counts > 0
        centroids[used] = sums[used] / counts[used, None]
    return centroids


class VectorQuantizer(nn.Module):
    """One codebook of ``codebook_size`` vectors of size ``dim``, updated by EMA."""

    def __init__(self, dim: int, codebook_size: int, decay: float = 0.99, epsilon: float = 1e-5,
                 dead_code_threshold: float = 0.05, kmeans_iterations: int = 10):
        super().__init__()
        self.dim = dim
        self.codebook_size = codebook_size
        self.decay = decay
        self.epsilon = epsilon
        self.dead_code_threshold = dead_code_threshold
        self.kmeans_iterations = kmeans_iterations
        self.register_buffer("codebook", torch.randn(codebook_size, dim) * 0.1)
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer("embed_sum", self.codebook.clone())
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def nearest(self, vectors: torch.Tensor) -> torch.Tensor:
        """``Tensor[N, D]`` -> ``LongTensor[N]`` index of the closest code (squared L2)."""
        codebook = self.codebook
        # |v|^2 - 2 v.c + |c|^2 in place on the [N, K] product: the same roundings as the out-of-place sum
        # (-2x is exact and v2 + (-2x) == v2 - 2x), so the same codes, without three [N, K] temporaries
        distances = (vectors @ codebook.t()).mul_(-2).add_(vectors.pow(2).sum(1, keepdim=True))
        return distances.add_(codebook.pow(2).sum(1)[None, :]).argmin(dim=1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """``LongTensor[...]`` -> ``Tensor[..., D]``."""
        return F.embedding(codes, self.codebook)

    @torch.no_grad()
    def _initialise(self, vectors: torch.Tensor) -> None:
        centroids = kmeans(vectors, self.codebook_size, self.kmeans_iterations)
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(centroids, 0)
        self.codebook.copy_(centroids)
        self.embed_sum.copy_(centroids)
        self.cluster_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, vectors: torch.Tensor, codes: torch.Tensor) -> None:
        onehot_counts = _all_reduce(torch.bincount(codes, minlength=self.codebook_size).to(vectors.dtype))
        sums = _all_reduce(torch.zeros_like(self.codebook).index_add_(0, codes, vectors))
        self.cluster_size.mul_(self.decay).add_(onehot_counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        # Laplace smoothing keeps rarely used codes from dividing by ~0
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (total + self.codebook_size * self.epsilon) * total
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        self._replace_dead_codes(vectors)

    @torch.no_grad()
    def _replace_dead_codes(self, vectors: torch.Tensor) -> None:
        dead = self.cluster_size < self.dead_code_threshold
        num_dead = int(dead.sum())
        if num_dead == 0:
            return
        picks = vectors[torch.randint(0, vectors.shape[0], (num_dead,), device=vectors.device)]
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(picks, 0)
        self.codebook[dead] = picks
        self.embed_sum[dead] = picks * self.dead_code_threshold
        self.cluster_size[dead] = self.dead_code_threshold

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantize ``Tensor[B, D, F]``.

        Returns:
            quantized ``Tensor[B, D, F]`` (straight-through gradient to ``x``), codes ``LongTensor[B, F]``,
            commitment loss (scalar, ``mse(x, sg(quantized))``).
        """
        batch, dim, frames = x.shape
        vectors = x.detach().transpose(1, 2).reshape(-1, dim).float()
        if self.training and not bool(self.initialized):
            self._initialise(vectors)
        codes = self.nearest(vectors)
        # look up before the EMA update: re-seeded dead codes equal batch vectors and would quantize them
        # perfectly, hiding the real quantization error from training
        quantized = self.lookup(codes).view(batch, frames, dim).transpose(1, 2).to(x.dtype)
        if self.training:
            self._ema_update(vectors, codes)
        commitment = F.mse_loss(x, quantized.detach())
        quantized = x + (quantized - x).detach()
        return quantized, codes.view(batch, frames), commitment


@dataclass
class RVQOutput:
    """What one residual quantization pass produces.

    quantized: ``Tensor[B, D, F]`` sum of the selected levels' code vectors.
    codes: ``LongTensor[B, Q', F]``.
    commitment_loss: scalar, mean over levels.
    perplexity: ``Tensor[Q']`` codebook usage per level (``exp`` of the code-histogram entropy).
    """

    quantized: torch.Tensor
    codes: torch.Tensor
    commitment_loss: torch.Tensor
    perplexity: torch.Tensor


class ResidualVQ(nn.Module):
    """``num_quantizers`` codebooks applied to successive residuals."""

    def __init__(self, dim: int, num_quantizers: int = 12, codebook_size: int = 1024, decay: float = 0.99,
                 dead_code_threshold: float = 0.05, kmeans_iterations: int = 10):
        super().__init__()
        self.num_quantizers = num_quantizers
        self.codebook_size = codebook_size
        self.layers = nn.ModuleList(
            VectorQuantizer(dim, codebook_size, decay, dead_code_threshold=dead_code_threshold,
                            kmeans_iterations=kmeans_iterations)
            for _ in range(num_quantizers)
        )

    def forward(self, x: torch.Tensor, num_levels: int | None = None) -> RVQOutput:
        """Quantize ``Tensor[B, D, F]`` with the first ``num_levels`` (default all) levels."""
        num_levels = self.num_quantizers if num_levels is None else num_levels
        self._check_levels(num_levels)
        residual = x
        quantized = torch.zeros_like(x)
        codes, losses, perplexities = [], [], []
        for layer in self.layers[:num_levels]:
            level_quantized, level_codes, commitment = layer(residual)
            residual = residual - level_quantized.detach()
            quantized = quantized + level_quantized
            codes.append(level_codes)
            losses.append(commitment)
            perplexities.append(self._perplexity(level_codes))
        return RVQOutput(quantized, torch.stack(codes, dim=1), torch.stack(losses).mean(), torch.stack(perplexities))

    @torch.no_grad()
    def encode(self, x: torch.Tensor, num_levels: int | None = None) -> torch.Tensor:
        """``Tensor[B, D, F]`` -> ``LongTensor[B, Q', F]`` (no codebook updates)."""
        num_levels = self.num_quantizers if num_levels is None else num_levels
        self._check_levels(num_levels)
        batch, dim, frames = x.shape
        residual = x.transpose(1, 2).reshape(-1, dim).float()
        codes = []
        for layer in self.layers[:num_levels]:
            level_codes = layer.nearest(residual)
            residual = residual - layer.lookup(level_codes)
            codes.append(level_codes.view(batch, frames))
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``LongTensor[B, Q', F]`` (``1 <= Q' <= Q`` leading levels) -> ``Tensor[B, D, F]``."""
        self._check_levels(codes.shape[1])
        quantized = sum(self.layers[level].lookup(codes[:, level]) for level in range(codes.shape[1]))
        return quantized.transpose(1, 2)

    def _check_levels(self, num_levels: int) -> None:
        if not 1 <= num_levels <= self.num_quantizers:
            raise ValueError(f"number of RVQ levels must be in 1..{self.num_quantizers}, got {num_levels}")

    def _perplexity(self, codes: torch.Tensor) -> torch.Tensor:
        counts = torch.bincount(codes.reshape(-1), minlength=self.codebook_size).float()
        probs = counts / counts.sum().clamp_min(1)
        return torch.exp(-(probs * torch.log(probs.clamp_min(1e-10))).sum())
