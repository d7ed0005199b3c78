"""EnCodec (Défossez et al. 2022) as an AudioLM acoustic codec, through ``transformers.EncodecModel``.

The 24 kHz model has 32 codebooks of 1024 codes at 75 Hz; we select the first 12 levels (9.0 kbps).
Weights come from a local path: a transformers directory (``config.json`` + weights) or an original
``encodec`` checkpoint (``encodec_24khz-d7cc33bc.th``: a plain state dict with the ``encodec`` package's
key names), whose keys are renamed onto the transformers model here. The ``encodec`` package itself is
never imported (it pulls torchaudio).
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from audiolm_lib.audio import AudioError
from audiolm_lib.serialization import (
    CONFIG_NAME,
    FORMAT_VERSION,
    WEIGHTS_NAME,
    CheckpointError,
    atomic_write_text,
    class_path,
    load_config_file,
    load_weights,
    save_weights,
    state_dict_mismatch,
)

if TYPE_CHECKING:  # pragma: no cover
    from transformers import EncodecConfig, EncodecModel

DEFAULT_LEVELS = 12

# original encodec name -> transformers name (applied in order, as regular expressions)
_ORIGINAL_TO_HF = [
    (r"^(encoder|decoder)\.model\.", r"\1.layers."),
    (r"\.conv\.conv\.", ".conv."),
    (r"\.convtr\.convtr\.", ".conv."),
    (r"\.conv\.norm\.", ".norm."),
    (r"\.convtr\.norm\.", ".norm."),
    (r"\.weight_g$", ".parametrizations.weight.original0"),
    (r"\.weight_v$", ".parametrizations.weight.original1"),
    (r"^quantizer\.vq\.layers\.(\d+)\._codebook\.", r"quantizer.layers.\1.codebook."),
]


def original_to_hf_key(key: str) -> str:
    """``encoder.model.0.conv.conv.weight_g`` -> ``encoder.layers.0.conv.parametrizations.weight.original0``."""
    for pattern, replacement in _ORIGINAL_TO_HF:
        key = re.sub(pattern, replacement, key)
    return key


def hf_to_original_state_dict(model: "EncodecModel") -> dict[str, torch.Tensor]:
    """The state dict of a transformers ``EncodecModel`` under the original ``encodec`` key names
    (what ``encodec_24khz-d7cc33bc.th`` holds). Used to export and to test the import path."""
    transposed = {f"decoder.layers.{i}" for i, layer in enumerate(model.decoder.layers)
                  if type(layer).__name__ == "EncodecConvTranspose1d"}
    state = {}
    for key, tensor in model.state_dict().items():
        name = key.replace(".parametrizations.weight.original0", ".weight_g")
        name = name.replace(".parametrizations.weight.original1", ".weight_v")
        name = re.sub(r"^quantizer\.layers\.(\d+)\.codebook\.", r"quantizer.vq.layers.\1._codebook.", name)
        prefix = ".".join(name.split(".")[:3])
        inner = "convtr.convtr" if prefix in transposed else "conv.conv"
        norm = "convtr.norm" if prefix in transposed else "conv.norm"
        name = re.sub(r"\.conv\.(?=(weight_g|weight_v|bias|weight)$)", f".{inner}.", name)
        name = re.sub(r"\.norm\.(?=(weight|bias)$)", f".{norm}.", name)
        name = re.sub(r"^(encoder|decoder)\.layers\.", r"\1.model.", name)
        state[name] = tensor.clone()
    return state


class EncodecCodec(nn.Module):
    """A pretrained EnCodec with the :class:`~audiolm_lib.interfaces.CodecProtocol` interface.

    ``encode``: ``Tensor[B, 1, T]`` at 24 kHz -> ``LongTensor[B, Q, F]`` (75 Hz, ``Q = num_quantizers``);
    ``decode``: any ``1..Q`` leading levels -> ``Tensor[B, 1, F * hop_length]``. Resampling from the
    caller's rate is the pipeline's job.
    """

    def __init__(self, model: "EncodecModel", num_quantizers: int = DEFAULT_LEVELS):
        super().__init__()
        self.model = model.eval()
        config = model.config
        total_levels = len(model.quantizer.layers)
        if not 1 <= num_quantizers <= total_levels:
            raise ValueError(f"num_quantizers must be in 1..{total_levels} for this EnCodec, got {num_quantizers}")
        self.num_quantizers = num_quantizers
        self.codebook_size = int(config.codebook_size)
        self.sample_rate = int(config.sampling_rate)
        self.hop_length = int(math.prod(config.upsampling_ratios))
        self.frame_rate = self.sample_rate / self.hop_length
        self.bandwidth = self._bandwidth_for(num_quantizers)

    def _bandwidth_for(self, levels: int) -> float:
        # transformers selects levels through a bandwidth, which must be listed in the config
        config = self.model.config
        per_level = math.ceil(self.frame_rate) * math.log2(self.codebook_size)
        bandwidth = round(levels * per_level / 1000, 6)
        if bandwidth not in config.target_bandwidths:
            config.target_bandwidths = sorted(set(config.target_bandwidths) | {bandwidth})
        chosen = self.model.quantizer.get_num_quantizers_for_bandwidth(bandwidth)
        if chosen != levels:
            raise ValueError(f"cannot select {levels} EnCodec levels by bandwidth ({bandwidth} kbps gives {chosen})")
        return bandwidth

    # ------------------------------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, num_quantizers: int | None = None,
                        config: "EncodecConfig | None" = None, map_location: str | torch.device = "cpu"
                        ) -> "EncodecCodec":
        """Load from a :meth:`save_pretrained` directory, a transformers directory or an original
        ``encodec_*.th`` state-dict file.

        ``num_quantizers``: levels to use (default: the saved choice, else 12).
        ``config``: architecture for a ``.th`` file (default: EnCodec 24 kHz, transformers' defaults).
        """
        path = Path(path)
        if not path.exists():
            raise CheckpointError(f"EnCodec checkpoint not found: {path}")
        if path.is_dir() and _is_own_directory(path):
            model, saved_levels = _load_own_directory(path)
            return cls(model.to(map_location), num_quantizers or saved_levels).eval()
        if path.is_dir():
            model = _load_hf_directory(path)
        else:
            model = _load_original_checkpoint(path, config)
        return cls(model.to(map_location), num_quantizers or DEFAULT_LEVELS)

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` (the EnCodec architecture + chosen levels) and ``model.safetensors``,
        the format every audiolm_lib component uses, so an ``AudioLM`` with EnCodec saves and loads whole."""
        import json

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "class": class_path(type(self)),
            "format_version": FORMAT_VERSION,
            "config": {"num_quantizers": self.num_quantizers, "encodec": self.model.config.to_dict()},
        }
        save_weights(self.model, directory / WEIGHTS_NAME)
        atomic_write_text(directory / CONFIG_NAME, json.dumps(meta, indent=2) + "\n")
        return directory

    # ------------------------------------------------------------------------------------------ codec
    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.inference_mode()
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, 1, T]`` -> ``LongTensor[B, Q, ceil(T / hop_length)]``."""
        if not isinstance(wave, torch.Tensor) or wave.dim() != 3 or wave.shape[1] != 1:
            shape = tuple(wave.shape) if isinstance(wave, torch.Tensor) else type(wave).__name__
            raise AudioError(f"expected a mono wave Tensor[B, 1, T], got {shape}")
        if wave.shape[-1] == 0:
            raise AudioError("wave has 0 samples")
        if not wave.is_floating_point() or not torch.isfinite(wave).all():
            raise AudioError("wave must be float and free of NaN/Inf")
        out = self.model.encode(wave.to(self._device(), torch.float32), bandwidth=self.bandwidth)
        codes = out.audio_codes  # [chunks, B, Q, F]; the 24 kHz model uses one chunk
        if codes.shape[0] != 1:
            raise ValueError("chunked EnCodec models (48 kHz) are not supported; use the 24 kHz model")
        return codes[0].long()

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``LongTensor[B, Q', F]`` (``1 <= Q' <= Q``) -> ``Tensor[B, 1, F * hop_length]``."""
        if not isinstance(codes, torch.Tensor) or codes.dim() != 3 or codes.is_floating_point():
            shape = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
            raise ValueError(f"expected integer codes LongTensor[B, Q, F], got {shape}")
        if not 1 <= codes.shape[1] <= self.num_quantizers:
            raise ValueError(f"codes have {codes.shape[1]} levels; this codec decodes 1..{self.num_quantizers}")
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise ValueError(f"codes must lie in [0, {self.codebook_size})")
        audio = self.model.decode(codes.to(self._device())[None], [None]).audio_values
        return audio[..., :codes.shape[-1] * self.hop_length]


def _is_own_directory(path: Path) -> bool:
    """A directory written by :meth:`EncodecCodec.save_pretrained` (its config.json names the class)."""
    from audiolm_lib.inputs import read_json

    try:  # a regular, bounded file: a FIFO named config.json must not block
        found = read_json(path / CONFIG_NAME, "EnCodec config", inside=path)
    except (OSError, ValueError):
        return False
    return isinstance(found, dict) and "class" in found


def _load_own_directory(path: Path) -> tuple["EncodecModel", int]:
    from transformers import EncodecConfig, EncodecModel

    meta = load_config_file(path)
    if meta["class"] != class_path(EncodecCodec):
        raise CheckpointError(f"{path} holds a {meta['class'].rpartition('.')[2]}, not an EncodecCodec")
    stored = meta["config"]
    if not isinstance(stored, dict) or "encodec" not in stored or "num_quantizers" not in stored:
        raise CheckpointError(f"{path / CONFIG_NAME} lacks the 'encodec' and 'num_quantizers' entries")
    from audiolm_lib.safe_load import check_hf_model_config, check_hf_model_size, offline_hub

    check_hf_model_config(stored["encodec"], f"{path / CONFIG_NAME} (encodec)")
    with offline_hub():
        encodec_config = EncodecConfig.from_dict(stored["encodec"])
    check_hf_model_size(EncodecModel, encodec_config, f"{path / CONFIG_NAME} (encodec)")
    with offline_hub():
        model = EncodecModel(encodec_config).eval()
    load_weights(model, path / WEIGHTS_NAME)
    return model, int(stored["num_quantizers"])


def _load_hf_directory(path: Path) -> "EncodecModel":
    from audiolm_lib.safe_load import check_hf_directory, offline_hub

    if not (path / "config.json").exists():
        raise CheckpointError(f"{path} has no config.json: not a transformers EnCodec directory")
    check_hf_directory(path, "EnCodec model")  # before the (slow) transformers import
    from transformers import EncodecConfig, EncodecModel

    from audiolm_lib.inputs import read_json
    from audiolm_lib.safe_load import check_hf_model_size

    with offline_hub():
        config = EncodecConfig.from_dict(read_json(path / "config.json", "EnCodec config", inside=path))
    check_hf_model_size(EncodecModel, config, str(path / "config.json"))
    try:
        with offline_hub():
            return EncodecModel.from_pretrained(str(path), local_files_only=True, use_safetensors=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"cannot load an EnCodec model from {path}: {exc}") from exc


def _load_original_checkpoint(path: Path, config: "EncodecConfig | None") -> "EncodecModel":
    from transformers import EncodecConfig, EncodecModel

    from audiolm_lib.safe_load import load_torch_weights

    state = load_torch_weights(path, "EnCodec checkpoint")
    if isinstance(state, dict) and "best_state" in state and isinstance(state["best_state"], dict):
        state = state["best_state"]  # training-solver checkpoints wrap the weights
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not an EnCodec state dict (expected a dict of tensors)")
    if not any(k.startswith("quantizer.vq.layers.") for k in state):
        raise CheckpointError(f"{path} is not an original EnCodec checkpoint: no 'quantizer.vq.layers.*' weights")
    model = EncodecModel(config or EncodecConfig()).eval()
    renamed = {original_to_hf_key(k): v for k, v in state.items()}
    problems = state_dict_mismatch(renamed, model.state_dict())
    if problems:
        raise CheckpointError(f"EnCodec checkpoint {path} does not match the model config: " + "; ".join(problems))
    model.load_state_dict(renamed)
    return model
