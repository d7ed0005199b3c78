"""audiolm_lib.measures: the one mel filterbank, log-mel, SI-SDR and mel distance the losses and reports share."""
import numpy as np
import pytest
import torch

from audiolm_lib.codecs.losses import MelSpectrogram
from audiolm_lib.measures import hz_to_mel, log_mel, mel_distance, mel_filterbank, mel_to_hz, si_sdr


def test_filterbank_matches_librosa_and_htk_scale_round_trips():
    librosa = pytest.importorskip("librosa")
    ours = mel_filterbank(16000, 512, 40).numpy()
    assert ours.shape == (40, 257) and (ours.sum(axis=1) > 0).all()
    assert np.allclose(ours, librosa.filters.mel(sr=16000, n_fft=512, n_mels=40), atol=1e-7)
    htk = mel_filterbank(16000, 512, 23, 20.0, 8000.0, htk=True, norm=None)
    assert torch.isclose(htk.max(), torch.tensor(1.0), atol=0.05) and htk.shape == (23, 257)
    freqs = torch.tensor([0.0, 440.0, 1000.0, 5000.0])
    for htk_scale in (False, True):
        assert torch.allclose(mel_to_hz(hz_to_mel(freqs, htk_scale), htk_scale), freqs.double())
    with pytest.raises(ValueError, match="must lie inside"):
        mel_filterbank(16000, 512, 40, f_max=9000.0)


def test_si_sdr_takes_the_reference_first_and_is_scale_invariant():
    torch.manual_seed(0)
    ref = torch.randn(1, 1, 1000)
    noise = torch.randn(1, 1, 1000)
    ref, noise = ref - ref.mean(), noise - noise.mean()
    noise = noise - (noise * ref).sum() / ref.pow(2).sum() * ref  # orthogonal to ref
    est = ref + 0.1 * noise
    expected = 10 * torch.log10(ref.pow(2).sum() / (0.1 * noise).pow(2).sum()).double()
    assert torch.allclose(si_sdr(ref, est), expected.reshape(1, 1), atol=1e-4)
    assert torch.allclose(si_sdr(ref, 3 * est), si_sdr(ref, est), atol=1e-6)
    assert si_sdr(ref, est + noise).item() < si_sdr(ref, est).item()


def test_mel_distance_is_the_loss_modules_log_mel():
    torch.manual_seed(0)
    clean = 0.1 * torch.randn(2, 1, 4000)
    small, large = clean + 0.01 * torch.randn_like(clean), clean + 0.1 * torch.randn_like(clean)
    assert mel_distance(clean, clean, 16000).shape == (2, 1) and mel_distance(clean, clean, 16000).max() == 0.0
    assert (mel_distance(clean, small, 16000) < mel_distance(clean, large, 16000)).all()
    module = MelSpectrogram(16000, 1024, 80, hop_length=256)
    assert torch.allclose(module(clean), log_mel(clean, 16000, 1024, 256, 80))
    by_module = (module(clean) - module(large)).abs().mean(dim=(-2, -1))
    assert torch.allclose(by_module.double(), mel_distance(clean, large, 16000), atol=1e-6)
