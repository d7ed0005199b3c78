"""Evaluation: codec metrics, the field's perceptual instruments (ViSQOL, PESQ, STOI, DNSMOS), ASR WER/CER, speaker
similarity, voicing (pYIN), music measures, token perplexity, the held-out quality benchmark, its oracle ladder and
its reports.

Names are imported lazily: ``import audiolm_lib.eval`` loads neither whisper nor the speaker encoder.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "si_sdr": "codec_metrics",
    "mel_distance": "codec_metrics",
    "codebook_usage": "codec_metrics",
    "codec_report": "codec_metrics",
    "normalize_text": "text",
    "edit_distance": "text",
    "number_to_words": "text",
    "word_error_rate": "text",
    "char_error_rate": "text",
    "AsrConfig": "asr",
    "WhisperTranscriber": "asr",
    "transcribe": "asr",
    "asr_error_rates": "asr",
    "default_whisper_model_dir": "asr",
    "SpeakerEncoder": "speaker",
    "speaker_embedding": "speaker",
    "speaker_similarity": "speaker",
    "continuation_report": "continuation",
    "stage_perplexity": "perplexity",
    "markdown_report": "report",
    "write_report": "report",
    "visqol": "perceptual",
    "pesq_wb": "perceptual",
    "stoi": "perceptual",
    "dnsmos": "perceptual",
    "voicing_track": "voicing",
    "voicing_report": "voicing",
    "oracle_ladder": "oracle_ladder",
    "teacher_forced_levels": "oracle_ladder",
    "music_measures": "music",
    "chroma_similarity": "music",
    "music_continuation_report": "music",
    "codec_quality_report": "codec_quality",
    "speech_continuation_quality": "continuation_quality",
    "piano_continuation_quality": "continuation_quality",
    "build_heldout": "audiolm_lib.datasets.heldout",  # the held-out sets are data: built under datasets/
    "HeldoutSpec": "audiolm_lib.datasets.heldout",
    "SuiteConfig": "suite",
    "run_suite": "suite",
    "quality_markdown": "quality_tables",
    "target_readings": "targets",
    "item_seed": "seeds",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'audiolm_lib.eval' has no attribute {name!r}")
    path = module if module.startswith("audiolm_lib.") else f"audiolm_lib.eval.{module}"
    value = getattr(importlib.import_module(path), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
