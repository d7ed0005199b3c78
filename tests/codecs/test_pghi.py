"""Phase gradient heap integration (audiolm_lib.codecs.pghi): the phase it rebuilds from a magnitude alone is far more
consistent than the phase-locked start, and keeps a low voice's pulses; the codec takes it by config; the heap walk
equals the published reference implementation (pghipy)."""
import math

import numpy as np
import pytest
import torch

from audiolm_lib.codecs.pghi import HANN_GAMMA, pghi_phase
from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig
from audiolm_lib.codecs.spectral_ops import SpectralFrontEnd, reconstruct_phase
from audiolm_lib.eval.voicing import voicing_report

FRONT_END = SpectralFrontEnd(n_fft=640, stft_hop=80, hop_length=320)


def low_voice(seconds=1.28, pitch=85.0):
    """A gliding 85 Hz pulse train through a vowel-like resonance: harmonics 3-4 bins apart at the 640-point window."""
    t = torch.arange(int(seconds * 16000)) / 16000
    phase = 2 * math.pi * torch.cumsum(pitch + 10 * torch.sin(2 * math.pi * 2 * t), 0) / 16000
    wave = sum(torch.sin(k * phase) * math.exp(-((k * pitch - 600) / 500) ** 2) for k in range(1, 40))
    return (0.3 * wave / wave.abs().max())[None, None]


def consistency(wave, magnitude):
    rebuilt = FRONT_END.stft(wave).abs()[..., : magnitude.shape[-1]]
    return float(torch.linalg.norm(rebuilt - magnitude) / torch.linalg.norm(magnitude))


def test_pghi_is_more_consistent_than_the_locked_start_and_its_iterations():
    voice = low_voice()
    magnitude = FRONT_END.stft(voice).abs()
    start = pghi_phase(magnitude.transpose(1, 2), 640, 80)
    assert start.shape == magnitude.transpose(1, 2).shape and float(start.min()) >= 0 and float(start.max()) < 2 * math.pi
    pghi = consistency(reconstruct_phase(magnitude, FRONT_END, 0, initial_phase=start), magnitude)
    locked = consistency(reconstruct_phase(magnitude, FRONT_END, 0), magnitude)
    locked8 = consistency(reconstruct_phase(magnitude, FRONT_END, 8), magnitude)
    assert pghi < 0.7 * locked8 < locked
    # the window's own ratio is the right one: half or twice it integrates worse
    off = [consistency(reconstruct_phase(magnitude, FRONT_END, 0, initial_phase=pghi_phase(
        magnitude.transpose(1, 2), 640, 80, gamma=g)), magnitude) for g in (HANN_GAMMA / 2, HANN_GAMMA * 2)]
    assert pghi < min(off)


def test_pghi_keeps_a_low_voice_voiced_through_a_blurred_magnitude():
    voice = low_voice()
    magnitude = FRONT_END.stft(voice).abs()
    # a decoder's error: every magnitude scaled by its own random factor (+-3 dB), so no phase fits it exactly
    noisy = magnitude * torch.exp(0.35 * torch.randn(magnitude.shape, generator=torch.Generator().manual_seed(0)))
    shares = {}
    for name, start, iterations in (("locked8", None, 8), ("pghi", pghi_phase(noisy.transpose(1, 2), 640, 80), 0)):
        wave = reconstruct_phase(noisy, FRONT_END, iterations, initial_phase=start)
        shares[name] = voicing_report(wave[0, 0].numpy(), 16000)["voiced_share"]
    assert shares["pghi"] >= shares["locked8"] and shares["pghi"] > 0.8


def test_the_walk_equals_the_reference_implementation():
    import pghipy  # a test dependency (setup.py TEST): the published implementation of the same algorithm
    magnitude = FRONT_END.stft(low_voice(0.5)).abs()[0].T.double()  # [N, bins]
    theirs = torch.from_numpy(np.asarray(pghipy.pghi(magnitude.numpy(), 640, 80, gamma=HANN_GAMMA * 640 ** 2,
                                                     tol=1e-5))).float()
    # ordered as finely as the reference's exact heap: the same phase
    fine = pghi_phase(magnitude[None], 640, 80, tolerance=1e-5, resolution_db=1e-3)[0]
    difference = torch.remainder(theirs - fine + math.pi, 2 * math.pi) - math.pi
    assert float(difference.abs().max()) < 1e-2
    # at the default order resolution (0.01 dB) some near-equal cells are walked in another order, so the phase
    # differs there, but it is as consistent as the reference's
    coarse = pghi_phase(magnitude[None], 640, 80, tolerance=1e-5)[0]
    assert not torch.allclose(coarse, fine)
    spectrum = magnitude.T[None].float()
    consistencies = [consistency(reconstruct_phase(spectrum, FRONT_END, 0, initial_phase=phase[None]), spectrum)
                     for phase in (theirs, coarse)]
    assert consistencies[1] == pytest.approx(consistencies[0], rel=0.01)


def test_silence_and_bad_shapes():
    assert torch.equal(pghi_phase(torch.zeros(1, 5, 321), 640, 80), torch.zeros(1, 5, 321))
    with pytest.raises(ValueError, match=r"\[B, frames, bins\]"):
        pghi_phase(torch.ones(5, 321), 640, 80)
    with pytest.raises(ValueError, match="tolerance"):
        pghi_phase(torch.ones(1, 5, 321), 640, 80, tolerance=1.5)
    with pytest.raises(ValueError, match="resolution_db"):
        pghi_phase(torch.ones(1, 5, 321), 640, 80, resolution_db=0.0)
    for bad in (float("nan"), float("inf"), -1.0):
        magnitude = torch.ones(1, 5, 321)
        magnitude[0, 2, 7] = bad
        with pytest.raises(ValueError, match="finite and non-negative"):
            pghi_phase(magnitude, 640, 80)
    # no threshold: every coefficient, however quiet (zeros included), is walked and the phase stays finite
    magnitude = torch.rand(1, 20, 321, generator=torch.Generator().manual_seed(0)) ** 8
    magnitude[0, 5] = 0
    assert torch.isfinite(pghi_phase(magnitude, 640, 80, tolerance=0.0)).all()


def test_the_codec_starts_its_phase_as_configured():
    with pytest.raises(ValueError, match="phase_start"):
        SpectralCodecConfig(phase_start="random")
    config = dict(hop_length=80, n_fft=128, stft_hop=20, dim=16, encoder_depth=1, decoder_depth=1, upsampler_dim=8,
                  upsampler_depth=1, latent_dim=8, num_quantizers=3, codebook_size=16, phase_iterations=0)
    torch.manual_seed(0)
    codec = SpectralCodec(SpectralCodecConfig(**config)).eval()
    codes = torch.randint(0, 16, (1, 3, 20))
    locked = codec.decode(codes)
    codec.config.phase_start = "pghi"
    pghi = codec.decode(codes)
    assert pghi.shape == locked.shape and not torch.allclose(pghi, locked)
    # the same magnitudes either way: only the phase differs
    spectra = [torch.stft(w[0, 0], 128, 20, window=torch.hann_window(128), return_complex=True).abs()
               for w in (locked, pghi)]
    assert float((spectra[0] - spectra[1]).abs().mean() / spectra[0].mean()) < 0.5


def test_a_lower_tolerance_keeps_the_quiet_parts():
    """Coefficients under the tolerance get phase 0, a click per STFT hop: a voice over a quiet (-60 dB) floor,
    rebuilt from its own magnitudes, is closer to itself in log-mel distance when the floor's phase is integrated."""
    from audiolm_lib.measures import mel_distance
    voice = low_voice()
    floor = 3e-4 * torch.randn(voice.shape, generator=torch.Generator().manual_seed(1))
    wave = torch.cat([voice, floor], dim=-1)  # a voice, then its quiet floor alone
    magnitude = FRONT_END.stft(wave).abs()
    distances = {}
    for tolerance in (1e-2, 1e-6):
        start = pghi_phase(magnitude.transpose(1, 2), 640, 80, tolerance=tolerance)
        rebuilt = reconstruct_phase(magnitude, FRONT_END, 0, initial_phase=start)[0, 0, : wave.shape[-1]]
        distances[tolerance] = float(mel_distance(wave[0, 0], rebuilt, 16000))
    assert distances[1e-6] < 0.8 * distances[1e-2]


def test_the_codec_reads_its_phase_tolerance_and_gamma():
    with pytest.raises(ValueError, match="phase_tolerance"):
        SpectralCodecConfig(phase_tolerance=1.0)
    with pytest.raises(ValueError, match="phase_gamma"):
        SpectralCodecConfig(phase_gamma=0.0)
    config = dict(hop_length=80, n_fft=128, stft_hop=20, dim=16, encoder_depth=1, decoder_depth=1, upsampler_dim=8,
                  upsampler_depth=1, latent_dim=8, num_quantizers=3, codebook_size=16, phase_iterations=0,
                  phase_start="pghi")
    torch.manual_seed(0)
    codec = SpectralCodec(SpectralCodecConfig(**config)).eval()
    codes = torch.randint(0, 16, (1, 3, 20))
    # checkpoints written without them decode as before
    assert SpectralCodecConfig().phase_tolerance == 1e-4 and SpectralCodecConfig().phase_gamma == HANN_GAMMA
    waves = [codec.decode(codes)]
    codec.config.phase_tolerance = 0.5
    waves.append(codec.decode(codes))
    codec.config.phase_tolerance, codec.config.phase_gamma = 1e-4, 0.65 * HANN_GAMMA
    waves.append(codec.decode(codes))
    assert not torch.allclose(waves[0], waves[1]) and not torch.allclose(waves[0], waves[2])


def test_a_batch_walks_each_item_as_alone():
    """The items of a batch walk on several threads at once; each gets the phase it would get alone."""
    generator = torch.Generator().manual_seed(3)
    magnitude = torch.rand(3, 40, 321, generator=generator) ** 4
    magnitude[1] = 0  # a silent item among them
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        together = pghi_phase(magnitude, 640, 80)
    finally:
        torch.set_num_threads(threads)
    for index in range(3):
        assert torch.equal(together[index], pghi_phase(magnitude[index: index + 1], 640, 80)[0])
    assert torch.equal(together[1], torch.zeros(40, 321))
