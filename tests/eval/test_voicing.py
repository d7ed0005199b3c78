"""Voicing measures by behaviour: a harmonic tone is voiced, noise and whisper are not, a pitch shift shows up as its
size in cents, a signal against itself has no error, silence does not count."""
import numpy as np
import pytest
import torch

from audiolm_lib.audio import load_audio
from audiolm_lib.eval.voicing import compare_voicing, voicing_report, voicing_track

pytestmark = pytest.mark.requires("librosa")
RATE = 16000
SENTENCE = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."


def harmonic_tone(f0: float, seconds: float = 1.0, rate: int = RATE) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return sum(0.3 / k * torch.sin(2 * torch.pi * f0 * k * t) for k in range(1, 6))


def test_harmonic_tone_is_voiced_and_noise_is_not():
    assert voicing_report(harmonic_tone(150.0), RATE)["voiced_share"] > 0.95
    noise = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, RATE).astype(np.float32))
    assert voicing_report(noise, RATE)["voiced_share"] < 0.05


def test_pitch_shift_is_its_size_in_cents_and_identity_is_zero():
    tone = harmonic_tone(150.0)
    shifted = voicing_report(harmonic_tone(150.0 * 2 ** (100 / 1200)), RATE, reference=tone)
    assert shifted["f0_error_cents"] == pytest.approx(100, abs=15)
    assert shifted["voicing_decision_error"] < 0.05 and shifted["voiced_in_both"] > 50
    same = voicing_report(tone, RATE, reference=voicing_track(tone, RATE))  # a precomputed track is reused
    assert same["f0_error_cents"] == 0 and same["voicing_decision_error"] == 0
    assert same["voiced_share"] == same["voiced_share_reference"]


def test_lengths_are_aligned_and_resampled():
    tone = harmonic_tone(200.0, seconds=1.0)
    longer = harmonic_tone(200.0, seconds=1.5)
    report = voicing_report(longer, RATE, reference=tone)
    assert report["voicing_decision_error"] == 0 and report["f0_error_cents"] == 0
    track_8k = voicing_track(harmonic_tone(200.0, rate=8000), 8000)  # resampled to 16 kHz: same frame count
    assert len(track_8k.voiced) == len(voicing_track(tone, RATE).voiced)
    assert compare_voicing(voicing_track(tone, RATE), track_8k)["f0_error_cents"] < 10


def test_silence_is_not_active():
    silent = torch.zeros(RATE)
    assert voicing_report(silent, RATE)["voiced_share"] is None
    tone_then_silence = torch.cat([harmonic_tone(150.0), silent])
    assert voicing_report(tone_then_silence, RATE)["voiced_share"] > 0.95  # the pause does not dilute it
    against = voicing_report(silent, RATE, reference=harmonic_tone(150.0))
    assert against["voicing_decision_error"] == 1.0 and against["f0_error_cents"] is None


@pytest.mark.slow
def test_speech_is_voiced_whisper_is_not_and_a_pitch_shift_is_measured(espeak_voices):
    librosa = pytest.importorskip("librosa")
    voiced = load_audio(espeak_voices("en", SENTENCE), sample_rate=RATE)[0]
    whispered = load_audio(espeak_voices("en+whisper", SENTENCE), sample_rate=RATE)[0]
    assert voicing_report(voiced, RATE)["voiced_share"] > 0.6
    assert voicing_report(whispered, RATE)["voiced_share"] < 0.1
    up = torch.from_numpy(librosa.effects.pitch_shift(voiced.numpy(), sr=RATE, n_steps=2))
    report = voicing_report(up, RATE, reference=voiced)
    assert report["f0_error_cents"] == pytest.approx(200, abs=30)
