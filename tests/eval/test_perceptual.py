"""The perceptual instruments rank clean above degraded (never a fixed score), and refuse bad input clearly."""
import numpy as np
import pytest
import torch

from audiolm_lib.audio import load_audio
from audiolm_lib.eval.perceptual import dnsmos, pesq_wb, stoi, visqol, visqol_mapping

pytestmark = pytest.mark.requires("visqol", "pesq", "pystoi", "speechmos", "onnxruntime", "librosa")


@pytest.fixture(scope="module")
def speech_pair(librivox_clips):
    """A 3 s real utterance and the same with white noise at about 5 dB SNR (Tensor[T] each, 16 kHz)."""
    clean = load_audio(librivox_clips["0880"][0])[0]
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(clean.shape, generator=generator)
    noisy = clean + noise * clean.pow(2).mean().sqrt() / noise.pow(2).mean().sqrt() * 10 ** (-5 / 20)
    return clean, noisy


def test_intrusive_speech_instruments_rank_clean_above_noisy(speech_pair):
    clean, noisy = speech_pair
    assert visqol_mapping("speech") == "lattice"  # the [eval] extra installs visqol-python[lattice]
    assert visqol(clean, clean, 16000) > visqol(clean, noisy, 16000) + 1.0
    assert pesq_wb(clean, clean, 16000) > pesq_wb(clean, noisy, 16000) + 1.0
    assert stoi(clean, clean, 16000) > 0.99 > stoi(clean, noisy, 16000)
    # resampling inside: the same pair at 8 kHz ranks the same way
    low, low_noisy = clean[::2], noisy[::2]
    assert stoi(low, low, 8000) > stoi(low, low_noisy, 8000)


def test_visqol_audio_mode_ranks_clean_music_above_degraded():
    t = torch.arange(2 * 16000) / 16000
    chord = sum(0.2 * torch.sin(2 * torch.pi * f * t) * torch.exp(-2 * (t % 0.5)) for f in (261.6, 329.6, 392.0))
    muffled = torch.nn.functional.avg_pool1d(chord[None, None], 9, 1, 4)[0, 0]  # a crude low-pass
    noisy = chord + 0.05 * torch.randn(chord.shape, generator=torch.Generator().manual_seed(1))
    exact = visqol(chord, chord, 16000, mode="audio")
    assert exact > visqol(chord, muffled, 16000, mode="audio") and exact > visqol(chord, noisy, 16000, mode="audio")


def test_dnsmos_rates_clean_speech_above_noisy(speech_pair):
    clean, noisy = speech_pair
    good, bad = dnsmos(clean, 16000), dnsmos(noisy, 16000)
    assert set(good) == {"sig", "bak", "ovrl", "p808"}
    assert all(1.0 <= value <= 5.0 for value in good.values())
    assert good["ovrl"] > bad["ovrl"] + 0.5 and good["bak"] > bad["bak"] + 0.5


def test_bad_input_is_a_clear_error_or_none():
    silent, tone = torch.zeros(16000), torch.sin(torch.arange(16000) / 5.0)
    with pytest.raises(ValueError, match="mode"):
        visqol(tone, tone, 16000, mode="music")
    with pytest.raises(ValueError, match="not silent"):
        visqol(silent, tone, 16000)
    with pytest.raises(ValueError, match="silent"):
        dnsmos(silent, 16000)
    with pytest.warns(UserWarning, match="PESQ"):
        assert pesq_wb(silent, silent, 16000) is None
    with pytest.warns(UserWarning, match="ViSQOL could not score this 0.30 s pair"):
        assert visqol(tone[:4800], tone[:4800], 16000) is None  # shorter than one patch
    with pytest.raises(ValueError, match="one wave"):
        stoi(torch.zeros(2, 1, 100), torch.zeros(2, 1, 100), 16000)
    assert np.isfinite(stoi(tone, tone, 16000))
