"""Speak a text with one catalogue voice (:mod:`audiolm_lib.datasets.voices`): 16 kHz mono, edges trimmed,
peak-normalised.

``espeak-ng``, ``flite`` and ``festival`` (``text2wave``) run as subprocesses; ``piper`` runs in this process
through ``piper-tts`` + ``onnxruntime`` (one single-threaded session per process, behind a lock).
"""
from __future__ import annotations

import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from audiolm_lib.datasets.voices import ESPEAK_BASE_WPM, PIPER_VOICE_PACKAGES, Voice

SAMPLE_RATE = 16000
PEAK = 0.9
SILENCE_THRESHOLD = 0.01  # of full scale, for trimming the edges
EDGE_PAD_SECONDS = 0.1
# festival reads 8-bit text: the encoding its voices of each language expect
FESTIVAL_ENCODINGS = {"cs": "iso-8859-2"}
TIMEOUT_SECONDS = 120

_piper_lock = threading.Lock()
_piper_voices: dict[str, object] = {}


def synthesize(voice: Voice, text: str, rate_scale: float = 1.0) -> np.ndarray:
    """Speak ``text`` with ``voice``; ``rate_scale`` > 1 speaks faster (on top of the voice's own ``speed``).

    Returns:
        float32 ``[T]`` mono at 16 kHz, edge silence trimmed, peak-normalised to 0.9.

    Raises:
        RuntimeError: the engine failed or wrote silence or unreadable audio (the message names the voice).
        ValueError: an unknown engine.
    """
    rate = rate_scale * voice.speed
    if voice.engine == "piper":
        wave, rate_hz = _piper(voice, text, rate)
        return _trim_and_normalise(_resample(wave, rate_hz), voice)
    from audiolm_lib.audio import AudioError, load_audio

    with tempfile.TemporaryDirectory(prefix="audiolm_tts_") as tmp:
        wav = Path(tmp) / "out.wav"
        command = _command(voice, text, rate, Path(tmp), wav)
        result = subprocess.run(command, capture_output=True, timeout=TIMEOUT_SECONDS)
        if result.returncode != 0 or not wav.exists():
            error = result.stderr.decode("utf-8", "replace").strip()[-300:]
            raise RuntimeError(f"{command[0]} failed for voice {voice.name}: {error}")
        try:
            wave = load_audio(wav, sample_rate=SAMPLE_RATE)[0].numpy()
        except AudioError as exc:
            raise RuntimeError(f"{command[0]} wrote unusable audio for voice {voice.name}: {exc}") from exc
    return _trim_and_normalise(wave, voice)


def _command(voice: Voice, text: str, rate: float, tmp: Path, wav: Path) -> list[str]:
    if voice.engine == "espeak":
        command = ["espeak-ng", "-v", voice.voice, "-s", str(int(round(ESPEAK_BASE_WPM * rate)))]
        if voice.pitch is not None:
            command += ["-p", str(int(voice.pitch))]
        return command + ["-w", str(wav), text]
    if voice.engine == "flite":
        stretch = f"duration_stretch={1.0 / rate:.3f}"
        return ["flite", "-voice", voice.voice, "--setf", stretch, "-t", text, "-o", str(wav)]
    if voice.engine == "festival":
        text_file = tmp / "text.txt"
        encoding = FESTIVAL_ENCODINGS.get(voice.language, "latin-1")
        text_file.write_bytes((text + "\n").encode(encoding, errors="replace"))
        stretch = f"(Parameter.set 'Duration_Stretch {1.0 / rate:.3f})"
        return ["text2wave", "-eval", f"({voice.voice})", "-eval", stretch, str(text_file), "-o", str(wav)]
    raise ValueError(f"unknown TTS engine {voice.engine!r} (voice {voice.name})")


def _piper(voice: Voice, text: str, rate: float) -> tuple[np.ndarray, int]:
    from piper import SynthesisConfig

    with _piper_lock:
        model = _piper_voice(voice.voice)
        chunks = list(model.synthesize(text, syn_config=SynthesisConfig(length_scale=1.0 / rate)))
    if not chunks:
        raise RuntimeError(f"piper wrote no audio for voice {voice.name}")
    return np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32), int(chunks[0].sample_rate)


def _piper_voice(model: str):
    """The piper voice from its PyPI package, loaded once per process, on one CPU thread."""
    if model in _piper_voices:
        return _piper_voices[model]
    import importlib

    import onnxruntime
    from piper import PiperVoice

    package = PIPER_VOICE_PACKAGES.get(model)
    if package is None:
        raise ValueError(f"no PyPI package known for piper voice {model!r}; known: {list(PIPER_VOICE_PACKAGES)}")
    try:
        assets = importlib.import_module(package)
    except ImportError as exc:
        raise RuntimeError(f"piper voice {model!r} needs `pip install {package.replace('_', '-')}`") from exc
    loaded = PiperVoice.load(str(assets.model_path()), config_path=str(assets.config_path()))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    loaded.session = onnxruntime.InferenceSession(str(assets.model_path()), sess_options=options,
                                                  providers=["CPUExecutionProvider"])
    _piper_voices[model] = loaded
    return loaded


def _resample(wave: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return wave
    import soxr

    return soxr.resample(wave, rate, SAMPLE_RATE).astype(np.float32)


def _trim_and_normalise(wave: np.ndarray, voice: Voice | None = None) -> np.ndarray:
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    if peak == 0.0:
        raise RuntimeError(f"TTS produced silence{f' (voice {voice.name})' if voice else ''}")
    loud = np.flatnonzero(np.abs(wave) > SILENCE_THRESHOLD * peak)
    pad = int(EDGE_PAD_SECONDS * SAMPLE_RATE)
    wave = wave[max(0, loud[0] - pad) : loud[-1] + 1 + pad]
    return (wave * (PEAK / peak)).astype(np.float32)
