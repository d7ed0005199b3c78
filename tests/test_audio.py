import math

import numpy as np
import pytest
import soundfile as sf
import torch

from audiolm_lib.audio import (
    AudioError,
    band_channel,
    band_limit,
    fold_band,
    load_audio,
    prepare_wave,
    resample,
    save_audio,
    upper_band_share,
)


def test_round_trip_wav_flac_ogg(tmp_path, sine_wave):
    wave = sine_wave(0.5)
    for suffix, atol in ((".wav", 1e-4), (".flac", 1e-4), (".ogg", 0.1)):
        path = save_audio(tmp_path / f"a{suffix}", wave, 16000)
        back = load_audio(path)
        assert back.dtype == torch.float32 and back.shape[0] == 1
        n = min(back.shape[-1], wave.shape[-1])
        assert torch.allclose(back[:, :n], wave[:, :n], atol=atol)


def test_stereo_downmix_and_resample(tmp_path):
    left = np.full(8000, 0.2, np.float32)
    right = np.full(8000, 0.6, np.float32)
    sf.write(tmp_path / "s.wav", np.stack([left, right], 1), 8000)
    wave = load_audio(tmp_path / "s.wav", sample_rate=16000)
    assert wave.shape == (1, 16000)
    assert abs(wave[0, 4000:12000].mean().item() - 0.4) < 1e-3
    stereo = load_audio(tmp_path / "s.wav", mono=False)
    assert stereo.shape == (2, 8000)
    wave, rate = load_audio(tmp_path / "s.wav", return_rate=True)
    assert rate == 8000 and wave.shape == (1, 8000)
    assert load_audio(tmp_path / "s.wav", sample_rate=16000, return_rate=True)[1] == 16000


def test_resample_tone_keeps_frequency(sine_wave):
    wave = sine_wave(1.0, rate=24000, freq=1000.0)
    out = resample(wave, 24000, 16000)
    assert out.shape[-1] == 16000
    spectrum = torch.fft.rfft(out[0]).abs()
    assert int(spectrum.argmax()) == 1000  # 1 Hz bins for a 1 s signal


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.wav", "not found"),
        (lambda p: _write(p / "empty.wav", b""), "empty"),
        (lambda p: _write(p / "bad.wav", b"RIFF1234WAVEjunkjunk"), "cannot decode"),
        (lambda p: p, "directory"),
    ],
)
def test_bad_files_raise_audio_error(tmp_path, make, message):
    with pytest.raises(AudioError, match=message):
        load_audio(make(tmp_path))


def test_nan_and_too_short(tmp_path):
    data = np.zeros(1600, np.float32)
    data[5] = np.nan
    sf.write(tmp_path / "nan.wav", data, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(tmp_path / "nan.wav")
    sf.write(tmp_path / "short.wav", np.zeros(160, np.float32), 16000)
    with pytest.raises(AudioError, match="at least"):
        load_audio(tmp_path / "short.wav", min_seconds=0.5)


def test_prepare_wave_shapes_and_checks():
    assert prepare_wave(torch.zeros(100), 16000, 16000).shape == (1, 1, 100)
    assert prepare_wave(torch.ones(2, 100), 16000, 16000).shape == (1, 1, 100)
    assert prepare_wave(torch.ones(3, 2, 160), 16000, 8000).shape == (3, 1, 80)
    with pytest.raises(AudioError, match="at least"):
        prepare_wave(torch.zeros(10), 16000, 16000, min_samples=320)
    with pytest.raises(AudioError, match="NaN"):
        prepare_wave(torch.tensor([0.0, float("inf")]), 16000, 16000)
    with pytest.raises(AudioError, match="shape"):
        prepare_wave(torch.zeros(1, 1, 1, 5), 16000, 16000)


def test_integer_pcm_is_scaled_and_other_dtypes_are_named():
    pcm = torch.tensor([[-32768, 0, 16384]], dtype=torch.int16)
    assert torch.equal(prepare_wave(pcm, 16000, 16000), torch.tensor([[[-1.0, 0.0, 0.5]]]))
    assert torch.equal(prepare_wave(torch.tensor([0, 128, 255], dtype=torch.uint8), 16000, 16000)[0, 0],
                       torch.tensor([-1.0, 0.0, 127 / 128]))
    with pytest.raises(AudioError, match="torch.int64 tensor as audio"):
        prepare_wave(torch.tensor([1, 2, 3]), 16000, 16000)
    with pytest.raises(AudioError, match="torch.bool"):
        prepare_wave(torch.ones(3, dtype=torch.bool), 16000, 16000)


def test_sample_range_reads_only_that_part(tmp_path):
    ramp = np.arange(16000, dtype=np.float32) / 32768.0
    sf.write(tmp_path / "r.wav", ramp, 16000, subtype="PCM_16")
    from audiolm_lib.audio import audio_info

    assert audio_info(tmp_path / "r.wav") == (16000, 16000)
    part = load_audio(tmp_path / "r.wav", start=15000, stop=15500)
    assert part.shape == (1, 500) and torch.allclose(part[0], torch.from_numpy(ramp[15000:15500]))
    assert load_audio(tmp_path / "r.wav", start=15900).shape == (1, 100)
    with pytest.raises(AudioError, match=r"no samples in the sample range \[20000, None\)"):
        load_audio(tmp_path / "r.wav", start=20000)


def test_save_refuses_unknown_formats_before_writing(tmp_path):
    with pytest.raises(ValueError, match="no extension"):
        save_audio(tmp_path / "out", torch.zeros(1, 10), 16000)
    with pytest.raises(ValueError, match="extension '.mp4'"):
        save_audio(tmp_path / "out.mp4", torch.zeros(1, 10), 16000)
    assert list(tmp_path.iterdir()) == []



def tones(*frequencies: float, rate: int = 16000) -> torch.Tensor:
    """``Tensor[T]``: one second of equal sines at whole-Hz ``frequencies`` (each on its own 1 Hz FFT bin)."""
    t = torch.arange(rate) / rate
    return sum(0.4 * torch.sin(2 * math.pi * f * t) for f in frequencies)


def test_band_limit_keeps_the_band_and_drops_what_is_above():
    rate, wave = 16000, tones(1000, 6000)[None]
    out = band_limit(wave, rate, 4000)
    assert out.shape == wave.shape and out.dtype == wave.dtype
    spectrum, before = torch.fft.rfft(out[0]).abs(), torch.fft.rfft(wave[0]).abs()  # 1 Hz bins
    assert spectrum[1000] > 0.95 * before[1000] and spectrum[6000] < 1e-3 * before[6000]
    for band in (0, -5, 8000, 9000, float("nan")):
        with pytest.raises(ValueError, match="band"):
            band_limit(wave, rate, band)


def test_fold_band_mirrors_the_band_below_into_the_band_above():
    from scipy.signal import resample_poly

    rate, wave = 16000, tones(1000, 6000)[None]
    folded = fold_band(wave, rate, 4000)
    assert folded.shape == wave.shape and folded.dtype == wave.dtype
    spectrum, before = torch.fft.rfft(folded[0]).abs(), torch.fft.rfft(wave[0]).abs()
    image = spectrum[7000]  # 1 kHz mirrored about 4 kHz
    assert spectrum[1000] > 0.9 * before[1000] and spectrum[6000] < 1e-3 * before[6000]
    assert 1e-4 * spectrum[1000] < image < 0.5 * spectrum[1000]  # an attenuated image ...
    assert torch.fft.rfft(band_limit(wave, rate, 4000)[0]).abs()[7000] < 0.1 * image  # ... where a clean cut has none
    reference = resample_poly(resample_poly(wave[0].double().numpy(), 1, 2), 2, 1)
    assert np.allclose(folded[0].numpy(), reference, atol=1e-6)
    with pytest.raises(ValueError, match="band"):
        fold_band(wave, rate, 8000)


def test_band_channel_extends_only_narrowband_waves():
    rate = 16000
    batch = torch.stack([tones(500, 6000), tones(700, 2100)])[:, None]  # [2, 1, T]: wideband, nothing above 4 kHz
    shares = upper_band_share(batch, rate, 4000)[:, 0]
    assert shares[0] > 0.3 and shares[1] < 0.01
    extended = band_channel(batch, rate, 4000, "extend")
    assert torch.equal(extended[0], batch[0])  # wideband: as it is
    assert torch.equal(extended[1], fold_band(batch[1], rate, 4000))  # narrowband: folded
    assert upper_band_share(extended[1:], rate, 4000) > shares[1]
    assert torch.equal(band_channel(batch, rate, 4000, "fold"), fold_band(batch, rate, 4000))
    assert torch.equal(band_channel(batch, rate, 4000, "cut"), band_limit(batch, rate, 4000))
    assert torch.equal(band_channel(batch[:1], rate, 4000, "extend"), batch[:1])  # no narrowband wave: unchanged
    with pytest.raises(ValueError, match="band mode"):
        band_channel(batch, rate, 4000, "mirror")
