"""Speaker similarity with resemblyzer's pretrained GE2E speaker encoder (cosine of d-vectors).

The encoder weights are the ``pretrained.pt`` that the PyPI package ``resemblyzer`` ships; the
preprocessing (volume normalisation, WebRTC-VAD silence trimming, 40-band mel, 1.6 s partials) is
re-implemented here so that importing ``resemblyzer`` itself (librosa, numba and a webrtcvad that
needs the removed ``pkg_resources``) is not needed. ``tests/eval/test_speaker.py`` checks the
embeddings against resemblyzer's own ``VoiceEncoder`` where that imports.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from audiolm_lib.audio import AudioError, prepare_wave
from audiolm_lib.measures import mel_spectrogram

SAMPLE_RATE = 16000
_MEL_WINDOW, _MEL_HOP, _MEL_BANDS = 400, 160, 40  # 25 ms / 10 ms at 16 kHz
_PARTIAL_FRAMES = 160  # 1.6 s per partial utterance
_VAD_WINDOW = 480  # 30 ms
_VAD_SMOOTHING = 8  # windows in the moving average
_VAD_MAX_SILENCE = 6  # windows of silence kept around speech
_TARGET_DBFS = -30.0
_INT16_MAX = 2**15 - 1


def default_weights_path() -> Path:
    """``pretrained.pt`` inside the installed ``resemblyzer`` package (found without importing it)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "speaker similarity needs the speaker-encoder weights of the package 'resemblyzer': "
            "`pip install resemblyzer`, or pass weights_path="
        )
    return Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"


class SpeakerEncoder(nn.Module):
    """3-layer LSTM over 40-band mel frames -> 256-d non-negative, L2-normalised speaker embedding."""

    def __init__(self, weights_path: str | os.PathLike | None = None):
        super().__init__()
        self.lstm = nn.LSTM(_MEL_BANDS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, 256)
        path = Path(weights_path) if weights_path else default_weights_path()
        if not path.exists():
            raise FileNotFoundError(f"speaker-encoder weights not found: {path}")
        from audiolm_lib.safe_load import load_torch_weights

        checkpoint = load_torch_weights(path, "speaker-encoder weights")
        state = checkpoint.get("model_state", checkpoint) if isinstance(checkpoint, dict) else None
        if not isinstance(state, dict):
            raise ValueError(f"{path} does not hold a resemblyzer speaker-encoder state dict")
        wanted = {key: value for key, value in state.items() if key.startswith(("lstm.", "linear."))}
        self.load_state_dict(wanted, strict=True)
        self.eval()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """``Tensor[N, frames, 40]`` mel partials -> ``Tensor[N, 256]`` unit-norm embeddings."""
        _, (hidden, _) = self.lstm(mels)
        embeds = torch.relu(self.linear(hidden[-1]))
        return embeds / embeds.norm(dim=1, keepdim=True).clamp_min(1e-12)

    @torch.no_grad()
    def embed(self, wave: torch.Tensor, sample_rate: int) -> np.ndarray:
        """One utterance (``Tensor[T]`` / ``Tensor[C, T]``) -> ``ndarray[256]`` unit-norm embedding.

        The utterance is cut into 1.6 s partials (1.3 per second); their embeddings are averaged.
        """
        audio = preprocess_wave(wave, sample_rate)
        mel_slices, padded_length = _partial_slices(len(audio))
        audio = np.pad(audio, (0, max(0, padded_length - len(audio))))
        mel = mel_spectrogram(torch.from_numpy(audio), SAMPLE_RATE, _MEL_WINDOW, _MEL_HOP, _MEL_BANDS).T  # [frames, 40]
        partials = torch.stack([mel[start:stop] for start, stop in mel_slices])
        with _one_thread():
            mean = self(partials).mean(dim=0).double().numpy()
        return mean / np.linalg.norm(mean)


@contextlib.contextmanager
def _one_thread():
    """Run the LSTM on one thread: its 160 sequential steps of small matmuls gain nothing from more,
    and on a busy machine the per-step thread synchronisation made it 100x slower (12 s vs 0.08 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def preprocess_wave(wave: torch.Tensor, sample_rate: int) -> np.ndarray:
    """Resample to 16 kHz, raise quiet audio to -30 dBFS, cut silences longer than ~0.2 s: ``ndarray[T']`` float32."""
    audio = prepare_wave(wave, sample_rate, SAMPLE_RATE, min_samples=_VAD_WINDOW)[0, 0].double().numpy()
    rms = np.sqrt(np.mean(audio**2))
    if rms == 0:
        raise AudioError("cannot embed a silent wave (all samples are zero)")
    gain_db = _TARGET_DBFS - 20 * np.log10(rms)
    if gain_db > 0:
        audio = audio * 10 ** (gain_db / 20)
    trimmed = _trim_long_silences(audio)
    # Generated babble can have no frame the VAD calls speech; keep it whole rather than fail.
    return (trimmed if len(trimmed) >= _VAD_WINDOW else audio).astype(np.float32)


def _trim_long_silences(audio: np.ndarray) -> np.ndarray:
    """WebRTC VAD (mode 3) on 30 ms windows, smoothed and dilated, as resemblyzer does."""
    try:
        import _webrtcvad  # the C core shared by 'webrtcvad' and 'webrtcvad-wheels'
    except ImportError as exc:
        raise ImportError("speaker similarity needs WebRTC VAD: `pip install webrtcvad-wheels`") from exc
    audio = audio[: len(audio) - len(audio) % _VAD_WINDOW]
    pcm = np.clip(np.round(audio * _INT16_MAX), -_INT16_MAX - 1, _INT16_MAX).astype("<i2").tobytes()
    vad = _webrtcvad.create()
    _webrtcvad.init(vad)
    _webrtcvad.set_mode(vad, 3)
    step = _VAD_WINDOW * 2  # bytes per window
    flags = np.array(
        [_webrtcvad.process(vad, SAMPLE_RATE, pcm[i : i + step], _VAD_WINDOW) for i in range(0, len(pcm), step)],
        dtype=float,
    )
    width = _VAD_SMOOTHING
    padded = np.concatenate((np.zeros((width - 1) // 2), flags, np.zeros(width // 2)))
    sums = np.cumsum(padded)
    sums[width:] = sums[width:] - sums[:-width]
    voiced = np.round(sums[width - 1 :] / width).astype(bool)
    dilated = np.convolve(voiced, np.ones(_VAD_MAX_SILENCE + 1), mode="same") > 0  # odd width: centred
    return audio[np.repeat(dilated, _VAD_WINDOW)]


def _partial_slices(num_samples: int, rate: float = 1.3, min_coverage: float = 0.75) -> tuple[list[tuple[int, int]], int]:
    """Mel-frame ranges of the partial utterances, and the wave length they need (zero-padded)."""
    num_frames = int(np.ceil((num_samples + 1) / _MEL_HOP))
    frame_step = int(np.round((SAMPLE_RATE / rate) / _MEL_HOP))
    steps = max(1, num_frames - _PARTIAL_FRAMES + frame_step + 1)
    slices = [(start, start + _PARTIAL_FRAMES) for start in range(0, steps, frame_step)]
    last_start = slices[-1][0] * _MEL_HOP
    coverage = (num_samples - last_start) / (_PARTIAL_FRAMES * _MEL_HOP)
    if coverage < min_coverage and len(slices) > 1:
        slices = slices[:-1]
    return slices, slices[-1][1] * _MEL_HOP


@functools.lru_cache(maxsize=2)
def load_speaker_encoder(weights_path: str | None = None) -> SpeakerEncoder:
    """The speaker encoder, loaded once per process."""
    return SpeakerEncoder(weights_path)


def speaker_embedding(wave: torch.Tensor, sample_rate: int, weights_path: str | os.PathLike | None = None) -> np.ndarray:
    """``Tensor[T]`` / ``Tensor[C, T]`` -> ``ndarray[256]`` unit-norm d-vector."""
    return load_speaker_encoder(str(weights_path) if weights_path else None).embed(wave, sample_rate)


def speaker_similarity(
    wave_a: torch.Tensor, wave_b: torch.Tensor, sample_rate: int, weights_path: str | os.PathLike | None = None
) -> float:
    """Cosine similarity of the two speakers' embeddings (about 0.9 same voice, 0.6 different voices)."""
    a = speaker_embedding(wave_a, sample_rate, weights_path)
    b = speaker_embedding(wave_b, sample_rate, weights_path)
    return float(np.dot(a, b))
