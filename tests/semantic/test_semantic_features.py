"""Spectral features against reference computations (numpy FFT, scipy DCT, the delta formula)."""
import math

import numpy as np
import pytest
import torch

from audiolm_lib.semantic.features import (
    FeatureConfig,
    SpectralFeatures,
    build_features,
    compute_deltas,
    dct_matrix,
    mel_filterbank,
)


def test_dct_matches_scipy():
    from scipy.fft import dct

    x = np.random.default_rng(0).standard_normal((5, 23))
    ours = torch.from_numpy(x).float() @ dct_matrix(23, 13)
    np.testing.assert_allclose(ours.numpy(), dct(x, type=2, norm="ortho", axis=-1)[:, :13], rtol=1e-4, atol=1e-5)


def test_mel_filterbank_shape_peaks_and_ordering():
    fb = mel_filterbank(512, 23, 16000, 20.0, 8000.0)
    assert fb.shape == (257, 23)
    assert float(fb.max()) <= 1.0 + 1e-6 and float(fb.min()) >= 0.0
    peaks = fb.argmax(dim=0)
    assert torch.all(peaks[1:] > peaks[:-1])  # centres rise with the band index
    assert (fb.sum(dim=0) > 0).all()  # no empty band


def test_deltas_match_the_regression_formula():
    x = torch.randn(1, 9, 3)
    d = compute_deltas(x, window=2)
    padded = torch.cat([x[:, :1]] * 2 + [x] + [x[:, -1:]] * 2, dim=1)
    expected = torch.stack([
        (1 * (padded[:, t + 3] - padded[:, t + 1]) + 2 * (padded[:, t + 4] - padded[:, t])) / 10.0 for t in range(9)
    ], dim=1)
    torch.testing.assert_close(d, expected)
    ramp = torch.arange(10.0)[None, :, None]
    assert torch.allclose(compute_deltas(ramp)[0, 2:-2, 0], torch.ones(6))  # slope of a ramp is 1


def test_logmel_matches_a_numpy_reference():
    config = FeatureConfig(kind="logmel", n_mels=40, deltas=0, normalize=False)
    extractor = SpectralFeatures(config)
    wave = torch.randn(1, 1, 3200 + 123)
    ours = extractor(wave)[0].numpy()
    frames = math.ceil(wave.shape[-1] / 320)
    assert ours.shape == (frames, 40) and extractor.num_frames(wave.shape[-1]) == frames
    signal = np.pad(wave[0, 0].numpy(), (0, frames * 320 - wave.shape[-1]))
    signal = np.pad(signal, (256, 256), mode="reflect")
    window = np.hanning(400)  # symmetric Hann, centred in the 512-point frame
    fb = mel_filterbank(512, 40, 16000, 20.0, 8000.0).numpy()
    for i in (0, 3, frames - 1):
        frame = signal[i * 320 : i * 320 + 512].copy()
        frame[:56] = 0
        frame[456:] = 0
        frame[56:456] *= window
        power = np.abs(np.fft.rfft(frame)) ** 2
        np.testing.assert_allclose(ours[i], np.log(np.maximum(power @ fb, 1e-10)), rtol=1e-3, atol=1e-3)


def test_mfcc_shape_rate_normalisation_and_determinism(sine_wave):
    extractor = build_features(FeatureConfig())
    assert extractor.dim == 39 and extractor.frame_rate == 50.0 and extractor.sample_rate == 16000
    wave = torch.stack([sine_wave(1.0), sine_wave(1.0, freq=880.0)])  # [2, 1, 16000]
    feats = extractor(wave)
    assert feats.shape == (2, 50, 39)
    torch.testing.assert_close(feats.mean(dim=1), torch.zeros(2, 39), atol=1e-4, rtol=0)
    assert torch.equal(feats, extractor(wave))
    assert not torch.allclose(feats[0], feats[1])  # different tones, different features
    # batch items are independent
    torch.testing.assert_close(extractor(wave[1:]), feats[1:], atol=1e-5, rtol=1e-5)


def test_frames_align_with_a_320_hop_codec():
    extractor = build_features(FeatureConfig())
    for samples in (1, 319, 320, 321, 16000, 16001):
        assert extractor(torch.randn(1, 1, samples)).shape[1] == math.ceil(samples / 320)


@pytest.mark.parametrize("bad", [dict(kind="spectrogram"), dict(n_mfcc=30), dict(deltas=3), dict(win_length=1024)])
def test_bad_feature_config_is_refused(bad):
    with pytest.raises(ValueError):
        FeatureConfig(**bad)
