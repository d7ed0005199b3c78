"""``SemanticTokenizer``: audio -> features (MFCC / log-mel / HuBERT / w2v-BERT) -> nearest k-means centroid.

A tokenizer directory (``save_pretrained``) is self-contained: ``config.json`` holds the feature settings
(and the Hugging Face model config for learned features), ``model.safetensors`` the centroids and the
feature model's weights (cut after the chosen layer).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from audiolm_lib.audio import AudioError, audio_info, load_audio
from audiolm_lib.semantic.features import (
    FeatureConfig,
    FeatureExtractor,
    HubertFeatures,
    W2VBertFeatures,
    build_features,
)
from audiolm_lib.semantic.kmeans import KMeans, fit_kmeans
from audiolm_lib.serialization import PretrainedMixin

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif")


@dataclass
class SemanticTokenizerConfig:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    num_clusters: int = 500
    feature_dim: int = 39


class SemanticTokenizer(PretrainedMixin, nn.Module):
    """Audio ``Tensor[B, 1, T]`` at ``sample_rate`` -> ``LongTensor[B, F]`` ids in ``[0, vocab_size)``.

    Build one with :meth:`mfcc`, :meth:`logmel`, :meth:`from_hubert`, :meth:`from_w2v_bert`,
    :meth:`from_features` or :func:`fit_tokenizer`; reload with :meth:`from_pretrained`.
    """

    config_class = SemanticTokenizerConfig

    def __init__(self, config: SemanticTokenizerConfig, features: FeatureExtractor | None = None,
                 kmeans: KMeans | None = None):
        super().__init__()
        self.features = features if features is not None else build_features(config.features)
        if self.features.dim != config.feature_dim:
            raise ValueError(f"feature extractor gives {self.features.dim}-dim features, config says {config.feature_dim}")
        self.kmeans = kmeans if kmeans is not None else KMeans(config.num_clusters, config.feature_dim)
        if (self.kmeans.num_clusters, self.kmeans.dim) != (config.num_clusters, config.feature_dim):
            raise ValueError(f"k-means is {self.kmeans.num_clusters}x{self.kmeans.dim}, config says "
                             f"{config.num_clusters}x{config.feature_dim}")
        # the extractor may have filled in details (e.g. the HF model config), keep them in our config
        self.config = SemanticTokenizerConfig(self.features.config, config.num_clusters, config.feature_dim)
        self.eval()

    # ----------------------------------------------------------------------------------------- constructors
    @classmethod
    def from_features(cls, features: FeatureExtractor, kmeans: KMeans | str | os.PathLike | torch.Tensor) -> "SemanticTokenizer":
        """Combine an extractor with k-means (a :class:`KMeans`, a ``.npy`` path or ``Tensor[K, D]`` centroids)."""
        kmeans = _as_kmeans(kmeans)
        config = SemanticTokenizerConfig(features.config, kmeans.num_clusters, kmeans.dim)
        return cls(config, features, kmeans)

    @classmethod
    def mfcc(cls, kmeans: KMeans | str | os.PathLike | torch.Tensor, **feature_options) -> "SemanticTokenizer":
        """MFCC (+deltas) features, 16 kHz, 50 Hz by default; ``feature_options`` set :class:`FeatureConfig` fields."""
        return cls.from_features(build_features(FeatureConfig(kind="mfcc", **feature_options)), kmeans)

    @classmethod
    def logmel(cls, kmeans: KMeans | str | os.PathLike | torch.Tensor, n_mels: int = 80, deltas: int = 0,
               **feature_options) -> "SemanticTokenizer":
        """Log-mel features (80 bands, no deltas by default), 16 kHz, 50 Hz."""
        config = FeatureConfig(kind="logmel", n_mels=n_mels, deltas=deltas, **feature_options)
        return cls.from_features(build_features(config), kmeans)

    @classmethod
    def from_hubert(cls, path: str | os.PathLike, layer: int, kmeans: KMeans | str | os.PathLike | torch.Tensor) -> "SemanticTokenizer":
        """HuBERT layer ``layer`` (a local HF directory or a fairseq ``.pt``) + k-means."""
        return cls.from_features(HubertFeatures.from_pretrained(path, layer), kmeans)

    @classmethod
    def from_w2v_bert(cls, path: str | os.PathLike, layer: int, kmeans: KMeans | str | os.PathLike | torch.Tensor) -> "SemanticTokenizer":
        """w2v-BERT 2.0 layer ``layer`` (a local HF directory) + k-means."""
        return cls.from_features(W2VBertFeatures.from_pretrained(path, layer), kmeans)

    # ----------------------------------------------------------------------------------------- properties
    @property
    def sample_rate(self) -> int:
        return self.features.sample_rate

    @property
    def frame_rate(self) -> float:
        return self.features.frame_rate

    @property
    def vocab_size(self) -> int:
        return self.kmeans.num_clusters

    @property
    def min_samples(self) -> int:
        return self.features.min_samples

    def num_frames(self, num_samples: int) -> int:
        """Tokens produced for ``num_samples`` samples of audio."""
        return self.features.num_frames(num_samples)

    # ----------------------------------------------------------------------------------------- tokenizing
    def _check_wave(self, wave: torch.Tensor, sample_rate: int | None) -> torch.Tensor:
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise AudioError(f"this tokenizer takes {self.sample_rate} Hz audio, got {sample_rate} Hz; resample first "
                             "(audiolm_lib.audio.prepare_wave / resample)")
        if not isinstance(wave, torch.Tensor):
            raise AudioError(f"expected a torch.Tensor wave [B, 1, T], got {type(wave).__name__}")
        if wave.ndim != 3 or wave.shape[1] != 1:
            raise AudioError(f"expected a mono wave Tensor[B, 1, T], got shape {tuple(wave.shape)} "
                             "(audiolm_lib.audio.prepare_wave converts [T] / [C, T])")
        if wave.shape[-1] < self.min_samples:
            raise AudioError(f"wave has {wave.shape[-1]} samples; this tokenizer needs at least {self.min_samples} "
                             f"({self.min_samples / self.sample_rate * 1000:.1f} ms at {self.sample_rate} Hz)")
        # a sum is NaN/Inf iff some sample is (for audio-range values): one cheap reduction, no mask
        if not torch.isfinite(wave.sum()):
            raise AudioError("wave contains NaN or Inf samples")
        device = self.kmeans.centroids.device
        return wave.to(device)

    @torch.inference_mode()
    def extract_features(self, wave: torch.Tensor, sample_rate: int | None = None) -> torch.Tensor:
        """``Tensor[B, 1, T]`` -> ``Tensor[B, F, D]`` features (before k-means)."""
        return self.features(self._check_wave(wave, sample_rate))

    @torch.inference_mode()
    def tokenize(self, wave: torch.Tensor, sample_rate: int | None = None) -> torch.Tensor:
        """``Tensor[B, 1, T]`` float audio at ``self.sample_rate`` -> ``LongTensor[B, F]`` token ids.

        Pass ``sample_rate`` to have a mismatch reported instead of silently producing wrong tokens.
        """
        return self.kmeans.assign(self.features(self._check_wave(wave, sample_rate)))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.tokenize(wave)

    def tokenize_file(self, path: str | os.PathLike) -> torch.Tensor:
        """Read an audio file (resampled to ``sample_rate``, downmixed) -> ``LongTensor[F]``."""
        wave = load_audio(path, sample_rate=self.sample_rate, min_seconds=self.min_samples / self.sample_rate)
        return self.tokenize(wave[None])[0]


def _as_kmeans(kmeans: KMeans | str | os.PathLike | torch.Tensor | np.ndarray) -> KMeans:
    if isinstance(kmeans, KMeans):
        return kmeans
    if isinstance(kmeans, (str, os.PathLike)):
        return KMeans.load(kmeans)
    if isinstance(kmeans, (torch.Tensor, np.ndarray)):
        if kmeans.ndim != 2:
            raise ValueError(f"centroids must be [num_clusters, dim], got shape {tuple(kmeans.shape)}")
        return KMeans(kmeans.shape[0], kmeans.shape[1], kmeans)
    raise TypeError(f"expected KMeans, a .npy path or centroids Tensor[K, D], got {type(kmeans).__name__}")


# --------------------------------------------------------------------------------------------- fitting
def list_audio_files(source: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """Audio files of a folder (recursive, sorted) or an explicit list of files."""
    if isinstance(source, (str, os.PathLike)):
        source = Path(source)
        if source.is_dir():
            from audiolm_lib.datasets.manifest import list_audio_files as list_folder

            return list_folder(source, AUDIO_SUFFIXES)
        return [source]
    files = [Path(p) for p in source]
    if not files:
        raise AudioError("empty list of audio files")
    return files


def feature_stream(extractor: FeatureExtractor, files: Iterable[Path], chunk_seconds: float = 30.0,
                   device: str | torch.device = "cpu", progress: bool = True) -> Iterator[torch.Tensor]:
    """Yield ``Tensor[F, D]`` features per ``chunk_seconds`` piece of each file (one file in memory at a time)."""
    from tqdm.auto import tqdm

    files = list(files)
    chunk = max(int(chunk_seconds * extractor.sample_rate), extractor.min_samples)
    extractor = extractor.to(device).eval()
    for path in tqdm(files, desc="features", unit="file", disable=not progress, leave=False):
        wave = load_audio(path, sample_rate=extractor.sample_rate)  # [1, T]
        for start in range(0, wave.shape[-1], chunk):
            piece = wave[:, start : start + chunk]
            if piece.shape[-1] < extractor.min_samples:
                continue
            with torch.inference_mode():
                yield extractor(piece[None].to(device))[0].cpu()


def expected_frames(files: Iterable[Path], frame_rate: float) -> int:
    """About how many feature frames ``files`` make at ``frame_rate`` (from the headers; nothing is decoded)."""
    total = 0
    for path in files:
        frames, rate = audio_info(path)
        total += int(frames / rate * frame_rate)
    return total


def fit_tokenizer(
    audio: str | os.PathLike | Sequence[str | os.PathLike],
    features: str | FeatureConfig | FeatureExtractor = "mfcc",
    num_clusters: int = 500,
    *,
    model_path: str | os.PathLike | None = None,
    layer: int = 6,
    chunk_seconds: float = 30.0,
    batch_frames: int = 10000,
    max_frames: int = 2_000_000,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> SemanticTokenizer:
    """Fit k-means on features of a folder (or list) of audio files and return the tokenizer.

    Args:
        audio: a folder (searched recursively) or a list of audio files; resampled to the extractor's rate.
        features: ``"mfcc"``, ``"logmel"``, ``"chroma"`` / ``"chroma_onset"`` (music), ``"hubert"``, ``"w2v-bert"``, a
            :class:`FeatureConfig` or an extractor.
        num_clusters: vocabulary size K.
        model_path: for ``"hubert"`` (HF directory or fairseq ``.pt``) / ``"w2v-bert"`` (HF directory).
        layer: transformer layer of the learned model to cluster.
        max_frames: bound on frames used for fitting.
    """
    if isinstance(features, str):
        if features in ("hubert", "w2v-bert"):
            if model_path is None:
                raise ValueError(f"features={features!r} needs model_path (a local model directory or checkpoint)")
            loader = HubertFeatures if features == "hubert" else W2VBertFeatures
            extractor = loader.from_pretrained(model_path, layer)
        else:
            extractor = build_features(FeatureConfig.for_kind(features))
    elif isinstance(features, FeatureConfig):
        extractor = build_features(features)
    elif isinstance(features, FeatureExtractor):
        extractor = features
    else:
        raise TypeError(f"features must be a kind name, FeatureConfig or FeatureExtractor, got {type(features).__name__}")
    files = list_audio_files(audio)
    stream = feature_stream(extractor, files, chunk_seconds, device, progress)
    kmeans = fit_kmeans(stream, num_clusters, batch_frames=batch_frames, max_frames=max_frames, seed=seed,
                        progress=progress, total_frames=expected_frames(files, extractor.frame_rate))
    return SemanticTokenizer.from_features(extractor.cpu(), kmeans)
