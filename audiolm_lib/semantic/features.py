"""Frame-level features for semantic tokens: MFCC / log-mel (no weights) and HuBERT / w2v-BERT (learned).

Every extractor is an ``nn.Module`` mapping ``Tensor[B, 1, T]`` audio at ``sample_rate`` to
``Tensor[B, F, D]`` features at ``frame_rate`` Hz. The spectral baselines default to 16 kHz and a hop of
320 samples (50 Hz), so their frames align 1:1 with the codecs' 50 Hz frames: ``F = ceil(T / 320)``.
They are HuBERT's iteration-0 targets (13 MFCCs + deltas + delta-deltas = 39 dims).
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from audiolm_lib import measures

from audiolm_lib.semantic.feature_base import (  # re-exported: the names every caller imports from here
    LEARNED_KINDS,
    PITCH_KINDS,
    SPECTRAL_KINDS,
    FeatureConfig,
    FeatureExtractor,
    FramedSpectrum,
    compute_deltas,
)
from audiolm_lib.semantic.pitch_features import ChromaFeatures

__all__ = ["SPECTRAL_KINDS", "PITCH_KINDS", "LEARNED_KINDS", "FeatureConfig", "FeatureExtractor", "compute_deltas",
           "SpectralFeatures", "ChromaFeatures", "HubertFeatures", "W2VBertFeatures", "build_features",
           "mel_filterbank", "dct_matrix"]


# --------------------------------------------------------------------------------------------- spectral
def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, f_min: float, f_max: float) -> torch.Tensor:
    """HTK-mel triangular filters (peak 1), ``Tensor[n_fft // 2 + 1, n_mels]`` (power spectrum @ fb = mel energies):
    :func:`audiolm_lib.measures.mel_filterbank` as the MFCC / log-mel features were fitted with."""
    return measures.mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, htk=True, norm=None).T


def dct_matrix(n_input: int, n_output: int) -> torch.Tensor:
    """Orthonormal DCT-II, ``Tensor[n_input, n_output]`` (x @ dct == scipy.fft.dct(x, norm='ortho')[:n_output])."""
    n = torch.arange(n_input, dtype=torch.float64)[:, None]
    k = torch.arange(n_output, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi / n_input * (n + 0.5) * k) * math.sqrt(2.0 / n_input)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.float()


class SpectralFeatures(FramedSpectrum):
    """Log-mel energies or MFCCs (+deltas), pure torch. ``F = ceil(T / hop_length)``, frame ``i`` centred
    at sample ``i * hop_length``."""

    def __init__(self, config: FeatureConfig):
        super().__init__(config, SPECTRAL_KINDS)
        fb = mel_filterbank(config.n_fft, config.n_mels, config.sample_rate, config.f_min, self.f_max)
        self.register_buffer("filterbank", fb, persistent=False)
        static = config.n_mfcc if config.kind == "mfcc" else config.n_mels
        if config.kind == "mfcc":
            self.register_buffer("dct", dct_matrix(config.n_mels, config.n_mfcc), persistent=False)
        self.dim = static * (1 + config.deltas)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, 1, T]`` -> ``Tensor[B, ceil(T / hop), dim]``."""
        cfg = self.config
        mel = torch.matmul(self.power_frames(wave), self.filterbank)  # [B, F, n_mels]
        features = torch.log(mel.clamp_min(1e-10))
        if cfg.kind == "mfcc":
            features = features @ self.dct
        parts = [features]
        for _ in range(cfg.deltas):
            parts.append(compute_deltas(parts[-1]))
        features = torch.cat(parts, dim=-1) if len(parts) > 1 else features
        if cfg.normalize:
            std, mean = torch.std_mean(features, dim=1, keepdim=True, unbiased=False)
            features = (features - mean) / (std + 1e-5)
        return features


# --------------------------------------------------------------------------------------------- learned
def _truncate_layers(model: nn.Module, layer: int, total: int, what: str) -> None:
    if not 1 <= layer <= total:
        raise ValueError(f"{what} has transformer layers 1..{total}; layer {layer} does not exist")
    model.encoder.layers = model.encoder.layers[:layer]
    model.config.num_hidden_layers = layer


class HubertFeatures(FeatureExtractor):
    """Output of transformer layer ``layer`` of a HuBERT model (the model is cut after that layer).

    ``F = floor((T - receptive_field) / hop) + 1`` (49.9 frames/s for the 400-sample, 320-hop HuBERT).
    For pre-LayerNorm (large) models the chosen layer's output passes through the encoder's final LayerNorm.
    """

    def __init__(self, config: FeatureConfig, model: nn.Module | None = None):
        super().__init__()
        from transformers import HubertConfig, HubertModel

        if config.model_config is None and model is None:
            raise ValueError("HubertFeatures needs a model or FeatureConfig.model_config")
        if model is None:
            model = _build_hf_model(HubertModel, HubertConfig, config.model_config, "HuBERT model_config")
        if len(model.encoder.layers) != config.layer:
            _truncate_layers(model, config.layer, len(model.encoder.layers), "this HuBERT model")
        self.model = model.eval()
        self.config = dataclasses.replace(config, model_config=_json_config(model.config))
        self.dim = model.config.hidden_size
        kernels, strides = model.config.conv_kernel, model.config.conv_stride
        self._hop = math.prod(strides)
        field = 1
        for kernel, stride in zip(reversed(kernels), reversed(strides)):
            field = (field - 1) * stride + kernel
        self._receptive_field = field

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, layer: int) -> "HubertFeatures":
        """From a local Hugging Face directory or an original fairseq ``.pt`` checkpoint."""
        from audiolm_lib.semantic.fairseq_checkpoint import load_fairseq_hubert
        from audiolm_lib.serialization import CheckpointError

        path = Path(path)
        normalize = False
        if path.is_dir():
            from audiolm_lib.safe_load import check_hf_directory, offline_hub

            if not (path / "config.json").exists():
                raise CheckpointError(f"{path} has no config.json: not a Hugging Face model directory")
            check_hf_directory(path, "HuBERT model")  # before the (slow) transformers import
            from transformers import HubertConfig, HubertModel

            _check_folder_model_size(HubertModel, HubertConfig, path)
            try:
                with offline_hub():
                    model = HubertModel.from_pretrained(str(path), local_files_only=True, use_safetensors=True)
            except (OSError, ValueError) as exc:
                raise CheckpointError(f"cannot load a HuBERT model from {path}: {exc}") from exc
            normalize = _hf_normalize_flag(path)
        elif path.exists():
            model, normalize = load_fairseq_hubert(path)
        else:
            raise CheckpointError(f"HuBERT model not found: {path} (give a Hugging Face directory or a fairseq .pt)")
        total = len(model.encoder.layers)
        _truncate_layers(model, layer, total, f"the HuBERT model in {path}")
        config = FeatureConfig(kind="hubert", sample_rate=16000, hop_length=320, layer=layer, normalize_waveform=normalize)
        return cls(config, model)

    @property
    def hop_length(self) -> int:
        return self._hop

    @property
    def min_samples(self) -> int:
        return self._receptive_field

    def num_frames(self, num_samples: int) -> int:
        return max(0, (num_samples - self._receptive_field) // self._hop + 1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, 1, T]`` -> ``Tensor[B, F, hidden_size]``, ``F = num_frames(T)``."""
        signal = wave[:, 0].float()
        if self.config.normalize_waveform:
            signal = F.layer_norm(signal, signal.shape[-1:])
        context = self._receptive_field - self._hop
        return _run_in_chunks(self._forward_chunk, signal, self._chunk_samples(), context, self.min_samples)

    def _forward_chunk(self, signal: torch.Tensor) -> torch.Tensor:
        return self.model(signal, output_hidden_states=True).hidden_states[self.config.layer]

    def _chunk_samples(self) -> int:
        hops = max(1, int(self.config.max_chunk_seconds * self.sample_rate) // self.hop_length)
        return hops * self.hop_length


class W2VBertFeatures(FeatureExtractor):
    """Output of transformer layer ``layer`` of a w2v-BERT 2.0 model (``transformers.Wav2Vec2BertModel``).

    Input features are 80-dim Kaldi fbanks stacked in pairs (SeamlessM4T feature extractor): 50 frames/s.
    """

    def __init__(self, config: FeatureConfig, model: nn.Module | None = None):
        super().__init__()
        from transformers import Wav2Vec2BertConfig, Wav2Vec2BertModel

        if model is None:
            if config.model_config is None:
                raise ValueError("W2VBertFeatures needs a model or FeatureConfig.model_config")
            model = _build_hf_model(Wav2Vec2BertModel, Wav2Vec2BertConfig, config.model_config,
                                    "w2v-BERT model_config")
        if len(model.encoder.layers) != config.layer:
            _truncate_layers(model, config.layer, len(model.encoder.layers), "this w2v-BERT model")
        self.model = model.eval()
        self.config = dataclasses.replace(config, model_config=_json_config(model.config))
        self.dim = model.config.hidden_size
        self._processor = None

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, layer: int) -> "W2VBertFeatures":
        from audiolm_lib.serialization import CheckpointError

        path = Path(path)
        if not path.is_dir() or not (path / "config.json").exists():
            raise CheckpointError(f"w2v-BERT needs a local Hugging Face model directory with config.json, got {path}")
        from audiolm_lib.safe_load import check_hf_directory, offline_hub

        check_hf_directory(path, "w2v-BERT model")  # before the (slow) transformers import
        from transformers import Wav2Vec2BertConfig, Wav2Vec2BertModel

        _check_folder_model_size(Wav2Vec2BertModel, Wav2Vec2BertConfig, path)

        try:
            with offline_hub():
                model = Wav2Vec2BertModel.from_pretrained(str(path), local_files_only=True,
                                                          use_safetensors=True)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"cannot load a w2v-BERT model from {path}: {exc}") from exc
        _truncate_layers(model, layer, len(model.encoder.layers), f"the w2v-BERT model in {path}")
        return cls(FeatureConfig(kind="w2v-bert", sample_rate=16000, hop_length=320, layer=layer), model)

    @property
    def hop_length(self) -> int:
        return 320

    @property
    def min_samples(self) -> int:
        return 400 + 160  # two 25 ms fbank frames (stacked in pairs)

    def num_frames(self, num_samples: int) -> int:
        return max(0, (1 + (num_samples - 400) // 160) // 2) if num_samples >= 400 else 0

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, 1, T]`` -> ``Tensor[B, F, hidden_size]``, ``F = num_frames(T)``."""
        hops = max(1, int(self.config.max_chunk_seconds * self.sample_rate) // self.hop_length)
        # a stacked fbank frame i covers samples [320 i, 320 i + 560)
        return _run_in_chunks(self._forward_chunk, wave, hops * self.hop_length, 560 - 320, self.min_samples)

    def _forward_chunk(self, wave: torch.Tensor) -> torch.Tensor:
        if self._processor is None:
            from transformers import SeamlessM4TFeatureExtractor

            self._processor = SeamlessM4TFeatureExtractor(sampling_rate=self.sample_rate)
        inputs = self._processor(
            [w[0].detach().cpu().float().numpy() for w in wave], sampling_rate=self.sample_rate,
            return_tensors="pt", padding=False,
        )
        features = inputs["input_features"].to(wave.device)
        out = self.model(features, output_hidden_states=True)
        return out.hidden_states[self.config.layer]


def _run_in_chunks(forward, signal: torch.Tensor, chunk: int, context: int, min_samples: int) -> torch.Tensor:
    """Apply ``forward`` to pieces ``[k chunk, (k + 1) chunk + context)`` and concatenate the frames.

    With ``chunk`` a multiple of the hop and ``context = receptive_field - hop`` the pieces' frames tile the
    frame grid of the whole signal exactly, so the frame count equals that of one pass.
    """
    total = signal.shape[-1]
    if total <= chunk + context:
        return forward(signal)
    pieces = []
    for start in range(0, total, chunk):
        piece = signal[..., start : start + chunk + context]
        if piece.shape[-1] >= min_samples:
            pieces.append(forward(piece))
    return torch.cat(pieces, dim=1)


def _json_config(hf_config) -> dict:
    """A Hugging Face config as a JSON-safe dict (what ``from_dict`` rebuilds)."""
    import json

    return json.loads(hf_config.to_json_string(use_diff=False))


def _build_hf_model(model_class, config_class, model_config: dict, source: str) -> nn.Module:
    """A transformers model from a stored config dict, once :func:`~audiolm_lib.safe_load.check_hf_model_config`
    passed (nothing fetched, sizes bounded), with the hub offline while it is built."""
    from audiolm_lib.safe_load import check_hf_model_config, check_hf_model_size, offline_hub

    check_hf_model_config(model_config, source)
    with offline_hub():
        config = config_class.from_dict(model_config)
    if torch.get_default_device().type != "meta":  # (already sized when probed on meta)
        check_hf_model_size(model_class, config, source)
    with offline_hub():
        return model_class(config)


def _check_folder_model_size(model_class, config_class, directory: Path) -> None:
    """A Hugging Face folder's model, sized on the meta device from its (already checked) config.json."""
    from audiolm_lib.inputs import read_json
    from audiolm_lib.safe_load import check_hf_model_size, offline_hub

    with offline_hub():
        config = config_class.from_dict(read_json(directory / "config.json", "model config", inside=directory))
    check_hf_model_size(model_class, config, str(directory / "config.json"))


def _hf_normalize_flag(directory: Path) -> bool:
    from audiolm_lib.inputs import InputFileError, read_json

    preprocessor = directory / "preprocessor_config.json"
    if preprocessor.exists():
        try:
            found = read_json(preprocessor, "preprocessor config", inside=directory)
        except InputFileError:
            return False
        return bool(found.get("do_normalize", False)) if isinstance(found, dict) else False
    return False


def build_features(config: FeatureConfig) -> FeatureExtractor:
    """Construct the extractor ``config`` describes (learned models from ``config.model_config``)."""
    if config.kind in SPECTRAL_KINDS:
        return SpectralFeatures(config)
    if config.kind in PITCH_KINDS:
        return ChromaFeatures(config)
    if config.kind == "hubert":
        return HubertFeatures(config)
    return W2VBertFeatures(config)
