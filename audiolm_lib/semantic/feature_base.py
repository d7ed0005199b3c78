"""What every frame-feature extractor shares: the kinds, :class:`FeatureConfig`, the :class:`FeatureExtractor` base
and regression deltas (:mod:`~audiolm_lib.semantic.features` and :mod:`~audiolm_lib.semantic.pitch_features`
build on them; ``features`` re-exports them)."""
from __future__ import annotations

from dataclasses import dataclass

import math

import torch
import torch.nn.functional as F
from torch import nn

SPECTRAL_KINDS = ("mfcc", "logmel")
# :mod:`audiolm_lib.semantic.pitch_features` (music: ids that carry the harmony; chroma_onset: and the attacks)
PITCH_KINDS = ("chroma", "chroma_onset")
# a pitch kind's own STFT (FeatureConfig's defaults are speech's 512 / 400): 128 ms resolves semitones from ~100 Hz
_CHROMA_STFT = {"n_fft": 2048, "win_length": 2048, "f_min": 80.0, "f_max": 4200.0}
PITCH_DEFAULTS = {kind: _CHROMA_STFT for kind in PITCH_KINDS}
LEARNED_KINDS = ("hubert", "w2v-bert")


@dataclass
class FeatureConfig:
    """What features to compute. ``kind`` picks the extractor; the other fields apply to some kinds.

    Pitch (chroma, chroma_onset: :mod:`~audiolm_lib.semantic.pitch_features`): sample_rate, hop_length, win_length, n_fft,
    f_min, f_max, normalize (of the energy dims), onset_weight (chroma_onset: the onset strength's scale, the
    chroma's being 2); ``FeatureConfig.for_kind("chroma")`` gives its own STFT size.
    Spectral (mfcc, logmel): sample_rate, hop_length, win_length, n_fft, n_mels, n_mfcc, deltas, f_min,
    f_max, normalize (per-utterance mean/variance normalisation).
    Learned (hubert, w2v-bert): layer (1-based transformer layer whose output is used; the model is cut
    after it), model_config (the Hugging Face config as a dict), normalize_waveform, max_chunk_seconds
    (longer audio is run in pieces on the model's frame grid, bounding attention memory, as fairseq's
    HuBERT feature dumper does).
    """

    kind: str = "mfcc"
    sample_rate: int = 16000
    hop_length: int = 320
    win_length: int = 400
    n_fft: int = 512
    n_mels: int = 23
    n_mfcc: int = 13
    deltas: int = 2
    f_min: float = 20.0
    f_max: float | None = None
    normalize: bool = True
    layer: int = 6
    model_config: dict | None = None
    normalize_waveform: bool = False
    max_chunk_seconds: float = 30.0
    onset_weight: float = 2.0

    @classmethod
    def for_kind(cls, kind: str, **fields) -> "FeatureConfig":
        """A config of ``kind`` with that kind's own defaults (chroma: a 2048-sample STFT) under ``fields``."""
        return cls(kind=kind, **{**PITCH_DEFAULTS.get(kind, {}), **fields})

    def __post_init__(self) -> None:
        kinds = SPECTRAL_KINDS + PITCH_KINDS + LEARNED_KINDS
        if self.kind not in kinds:
            raise ValueError(f"unknown feature kind {self.kind!r}; choose one of {kinds}")
        if self.kind in SPECTRAL_KINDS + PITCH_KINDS:
            if self.hop_length <= 0 or self.win_length <= 0 or self.win_length > self.n_fft:
                raise ValueError(
                    f"need 0 < hop_length and 0 < win_length <= n_fft, got hop {self.hop_length}, "
                    f"win {self.win_length}, n_fft {self.n_fft}"
                )
            if self.kind == "mfcc" and not 0 < self.n_mfcc <= self.n_mels:
                raise ValueError(f"n_mfcc must be in [1, n_mels={self.n_mels}], got {self.n_mfcc}")
            if self.deltas not in (0, 1, 2):
                raise ValueError(f"deltas must be 0, 1 or 2, got {self.deltas}")


class FeatureExtractor(nn.Module):
    """Base class: ``forward(wave: Tensor[B, 1, T]) -> Tensor[B, F, D]``."""

    config: FeatureConfig
    dim: int

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        raise NotImplementedError

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def min_samples(self) -> int:
        """Shortest input that yields at least one frame."""
        return 1

    def num_frames(self, num_samples: int) -> int:
        raise NotImplementedError


class FramedSpectrum(FeatureExtractor):
    """Base of the STFT features (log-mel / MFCC, chroma): the analysis window and the framing they share.
    ``F = ceil(T / hop_length)``, frame ``i`` centred at sample ``i * hop_length`` (ids align with codec frames)."""

    def __init__(self, config: FeatureConfig, kinds: tuple[str, ...]):
        super().__init__()
        if config.kind not in kinds:
            raise ValueError(f"{type(self).__name__} computes {kinds}, not {config.kind!r}")
        self.config = config
        self.register_buffer("window", torch.hann_window(config.win_length, periodic=False), persistent=False)

    @property
    def f_max(self) -> float:
        return self.config.f_max if self.config.f_max is not None else self.config.sample_rate / 2

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    def num_frames(self, num_samples: int) -> int:
        return math.ceil(num_samples / self.config.hop_length)

    def power_frames(self, wave: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, 1, T]`` -> power spectrum ``Tensor[B, ceil(T / hop), n_fft // 2 + 1]``."""
        cfg = self.config
        frames = self.num_frames(wave.shape[-1])
        signal = wave[:, 0].float()
        # right-pad to whole hops; stft(center=True) then gives frames + 1 frames, the last is dropped
        signal = F.pad(signal, (0, frames * cfg.hop_length - signal.shape[-1]))
        pad = cfg.n_fft // 2
        mode = "reflect" if signal.shape[-1] > pad else "constant"
        signal = F.pad(signal[:, None], (pad, pad), mode=mode)[:, 0]
        spec = torch.stft(
            signal, cfg.n_fft, cfg.hop_length, cfg.win_length, self.window, center=False, return_complex=True
        )[..., :frames]  # [B, n_fft/2+1, F]
        power = spec.real.square() + spec.imag.square()  # cheaper than abs() or a sum over a size-2 dim
        return power.transpose(1, 2)


def compute_deltas(features: torch.Tensor, window: int = 2) -> torch.Tensor:
    """Regression deltas over time of ``Tensor[B, F, D]`` (edges replicated), as in HTK/Kaldi:
    ``d_t = sum_n n (x_{t+n} - x_{t-n}) / (2 sum_n n^2)``."""
    dim = features.shape[-1]
    taps = torch.arange(-window, window + 1, dtype=features.dtype, device=features.device)
    kernel = (taps / (2.0 * sum(n * n for n in range(1, window + 1)))).expand(dim, 1, -1)
    padded = F.pad(features.transpose(1, 2), (window, window), mode="replicate")  # [B, D, F + 2w]
    # one depthwise convolution instead of 2w shifted differences (fewer ops, matters on busy CPUs)
    return F.conv1d(padded, kernel, groups=dim).transpose(1, 2)
