"""audiolm_lib: hierarchical audio language models (AudioLM) in PyTorch.

What ships (``AudioLM.from_pretrained("checkpoints/speech")``): an MFCC/k-means :class:`SemanticTokenizer`, a
:class:`SemanticLM`, a :class:`ParallelAcousticLM` (SoundStorm-style masked parallel acoustic generator) and a
:class:`SpectralCodec`. The paper's coarse + fine stages (:class:`CoarseLM`, :class:`FineLM`) and the
:class:`SoundStream` / :class:`EncodecCodec` codecs remain available as alternatives.

Public names are imported lazily, so ``import audiolm_lib`` stays fast and has no side effects
(no network, no warning filters, no logging configuration).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "AudioLM": "audiolm_lib.pipeline",
    "AudioLMConfig": "audiolm_lib.pipeline",
    "SpectralCodec": "audiolm_lib.codecs.spectral",
    "SpectralCodecConfig": "audiolm_lib.codecs.spectral",
    "SoundStream": "audiolm_lib.codecs.soundstream",
    "SoundStreamConfig": "audiolm_lib.codecs.soundstream",
    "EncodecCodec": "audiolm_lib.codecs.encodec",
    "SemanticTokenizer": "audiolm_lib.semantic.tokenizer",
    "SemanticLM": "audiolm_lib.lm.stages",
    "SemanticLMConfig": "audiolm_lib.lm.stages",
    "ParallelAcousticLM": "audiolm_lib.lm.parallel",
    "ParallelAcousticLMConfig": "audiolm_lib.lm.parallel",
    "CoarseLM": "audiolm_lib.lm.stages",
    "FineLM": "audiolm_lib.lm.stages",
    "HierarchicalAcoustic": "audiolm_lib.lm.hierarchical",
    "TransformerConfig": "audiolm_lib.lm.transformer",
    "SamplingConfig": "audiolm_lib.lm.sampling",
    "AcousticGeneratorProtocol": "audiolm_lib.interfaces",
    "CodecProtocol": "audiolm_lib.interfaces",
    "SemanticTokenizerProtocol": "audiolm_lib.interfaces",
    "AudioError": "audiolm_lib.audio",
    "load_audio": "audiolm_lib.audio",
    "save_audio": "audiolm_lib.audio",
    "CheckpointError": "audiolm_lib.serialization",
    "load_pretrained": "audiolm_lib.serialization",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'audiolm_lib' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from audiolm_lib.audio import AudioError, load_audio, save_audio
    from audiolm_lib.codecs.encodec import EncodecCodec
    from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
    from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig
    from audiolm_lib.interfaces import AcousticGeneratorProtocol, CodecProtocol, SemanticTokenizerProtocol
    from audiolm_lib.lm.hierarchical import HierarchicalAcoustic
    from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig
    from audiolm_lib.lm.sampling import SamplingConfig
    from audiolm_lib.lm.stages import CoarseLM, FineLM, SemanticLM, SemanticLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig
    from audiolm_lib.pipeline import AudioLM, AudioLMConfig
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer
    from audiolm_lib.serialization import CheckpointError, load_pretrained
