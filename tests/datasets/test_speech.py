"""Speech builder: TTS voices reading seeded sentences, transcripts beside the audio, distinct speakers."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from audiolm_lib.datasets.manifest import read_manifest
from audiolm_lib.datasets.sentences import make_sentences, sentence_at
from audiolm_lib.datasets.speech import VOICES, build_speech_dataset, resolve_voices

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (bash .ci/install)")


def median_f0(wave: np.ndarray, rate: int = 16000) -> float:
    """Median pitch (Hz) over loud 40 ms frames, by autocorrelation in 70-400 Hz."""
    size, lo, hi = int(0.04 * rate), rate // 400, rate // 70
    threshold = 0.3 * np.sqrt(np.mean(wave**2))
    pitches = []
    for start in range(0, len(wave) - size, size // 2):
        frame = wave[start : start + size] - wave[start : start + size].mean()
        if np.sqrt(np.mean(frame**2)) < threshold:
            continue
        corr = np.correlate(frame, frame, "full")[size - 1 :]
        lag = lo + int(np.argmax(corr[lo:hi]))
        if corr[lag] > 0.3 * corr[0]:
            pitches.append(rate / lag)
    return float(np.median(pitches))


def test_sentences_are_deterministic_and_varied():
    assert make_sentences(50, seed=3) == make_sentences(50, seed=3)
    assert make_sentences(20, seed=3) == make_sentences(50, seed=3)[:20]
    assert make_sentences(20, seed=3) != make_sentences(20, seed=4)
    sentences = [sentence_at(k, seed=0) for k in range(200)]
    assert len(set(sentences)) > 190
    assert len({w.strip(".,?").lower() for s in sentences for w in s.split()}) > 200
    assert all(s[0].isupper() and s[-1] in ".?" for s in sentences)


def test_voice_selection_errors():
    with pytest.raises(ValueError, match="unknown speaker 'nobody'"):
        resolve_voices(["nobody"])
    assert len({v.name for v in VOICES}) == len(VOICES) >= 10


@needs_espeak
def test_build_two_speakers(tmp_path):
    speakers = ["espeak_us_m3", "espeak_en_f2"]
    manifest = build_speech_dataset(tmp_path / "a", minutes=5, speakers=speakers, seed=1, max_utterances_per_speaker=2, progress=False)
    entries = read_manifest(manifest)
    assert [e["speaker"] for e in entries] == speakers * 2
    assert len({e["text"] for e in entries}) == 4  # everyone reads different sentences
    pitch = {}
    for entry in entries:
        wave, rate = sf.read(entry["audio"], dtype="float32")
        assert rate == 16000 and wave.ndim == 1 and abs(len(wave) / rate - entry["duration"]) < 1e-3
        assert 0.5 < entry["duration"] < 15 and np.abs(wave).max() > 0.5
        transcript = entry["audio"].replace(".wav", ".txt")
        assert open(transcript).read().strip() == entry["text"]
        assert entry["split"] in ("train", "valid")
        pitch.setdefault(entry["speaker"], []).append(median_f0(wave))
    male, female = np.mean(pitch["espeak_us_m3"]), np.mean(pitch["espeak_en_f2"])
    assert 70 < male < 180 and female > 1.3 * male, pitch

    # resumable: a rebuild re-synthesises nothing; deterministic: the same manifest
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "a/audio").iterdir()}
    again = build_speech_dataset(tmp_path / "a", minutes=5, speakers=speakers, seed=1, max_utterances_per_speaker=2, progress=False)
    assert again.read_text() == manifest.read_text()
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "a/audio").iterdir()} == mtimes
