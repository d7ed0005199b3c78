import math

import pytest
import torch

from audiolm_lib.audio import AudioError
from audiolm_lib.codecs.phase_losses import anti_wrap, phase_losses
from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig
from audiolm_lib.codecs.spectral_ops import SpectralFrontEnd, phase_locked_init, reconstruct_phase
from audiolm_lib.interfaces import CodecProtocol
from audiolm_lib.serialization import load_pretrained


def tiny_config(**overrides):
    values = dict(hop_length=80, n_fft=128, stft_hop=20, dim=16, encoder_depth=1, decoder_depth=1, upsampler_dim=8,
                  upsampler_depth=1, latent_dim=8, num_quantizers=3, codebook_size=16)
    values.update(overrides)
    return SpectralCodecConfig(**values)


def trained_a_little(config=None):
    model = SpectralCodec(config or tiny_config())
    model.train()
    model(torch.randn(2, 1, 1600) * 0.1, num_levels=model.num_quantizers)  # k-means init of every RVQ level
    return model.eval()


def harmonic(seconds=0.5, rate=16000, pitch=220.0):
    t = torch.arange(int(seconds * rate)) / rate
    return sum(0.3 / k * torch.sin(2 * math.pi * k * pitch * t + k) for k in range(1, 6))[None, None]


def spectral_convergence(estimate, reference, front_end):
    est, ref = front_end.stft(estimate).abs(), front_end.stft(reference).abs()
    return float(torch.linalg.norm(est - ref) / torch.linalg.norm(ref))


def test_default_token_layout_and_protocol():
    model = SpectralCodec()
    assert (model.sample_rate, model.hop_length, model.frame_rate) == (16000, 320, 50.0)
    assert (model.num_quantizers, model.codebook_size) == (12, 1024)
    assert isinstance(model, CodecProtocol)
    codes = model.eval().encode(torch.randn(1, 1, 1000) * 0.1)  # 1000 samples -> 4 frames (right-padded)
    assert codes.shape == (1, 12, 4) and codes.dtype == torch.long
    for levels in (1, 4, 12):
        assert model.decode(codes[:, :levels]).shape == (1, 1, 4 * 320)


@pytest.mark.parametrize("quantizer", ["rvq", "rfsq"])
def test_every_level_count_decodes_and_codes_stay_in_range(quantizer):
    model = trained_a_little(tiny_config(quantizer=quantizer))
    codes = model.encode(torch.randn(2, 1, 800) * 0.1)
    assert codes.shape == (2, 3, 10) and 0 <= codes.min() and codes.max() < 16
    decoded = [model.decode(codes[:, :levels]) for levels in (1, 2, 3)]
    assert all(d.shape == (2, 1, 800) and torch.isfinite(d).all() for d in decoded)
    assert not torch.equal(decoded[0], decoded[2])  # more levels change the output
    # the training forward with all levels quantizes exactly as encode does
    wave = torch.randn(1, 1, 800) * 0.1
    assert torch.equal(model(wave, num_levels=3).codes, model.encode(wave))


def test_chunked_encoding_equals_whole_file_encoding():
    model = trained_a_little()
    wave = torch.randn(1, 1, 16000 * 3 + 123) * 0.1
    whole = model.encode(wave)
    chunked = model.encode_chunked(wave, chunk_seconds=0.37)
    assert torch.equal(whole, chunked)


def test_bad_input_is_named():
    model = trained_a_little()
    with pytest.raises(AudioError, match="mono"):
        model.encode(torch.zeros(1, 2, 800))
    with pytest.raises(AudioError, match="NaN"):
        model.encode(torch.full((1, 1, 800), float("nan")))
    with pytest.raises(AudioError, match="0 samples"):
        model.encode(torch.zeros(1, 1, 0))
    with pytest.raises(ValueError, match="levels"):
        model.decode(torch.zeros(1, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="lie in"):
        model.decode(torch.full((1, 3, 5), 16))
    with pytest.raises(ValueError, match="multiple of stft_hop"):
        SpectralCodecConfig(hop_length=320, stft_hop=96)
    with pytest.raises(ValueError, match="quantizer"):
        SpectralCodecConfig(quantizer="pq")


def test_save_and_load_round_trip(tmp_path):
    model = trained_a_little(tiny_config(phase="learned"))
    model.save_pretrained(tmp_path / "codec")
    loaded = load_pretrained(tmp_path / "codec")
    assert isinstance(loaded, SpectralCodec) and loaded.config == model.config
    wave = torch.randn(1, 1, 1600) * 0.1
    codes = model.encode(wave)
    assert torch.equal(loaded.encode(wave), codes)
    torch.testing.assert_close(loaded.decode(codes), model.decode(codes))


def test_phase_reconstruction_recovers_a_consistent_spectrogram():
    front_end = SpectralFrontEnd(n_fft=640, stft_hop=80, hop_length=320)
    # steady partials: the phase-locked start alone is nearly consistent, zero phase is not
    steady = harmonic(seconds=0.64)
    magnitude = front_end.stft(steady).abs()
    zero_phase = front_end.istft(torch.polar(magnitude, torch.zeros_like(magnitude)), steady.shape[-1])
    locked = front_end.istft(torch.polar(magnitude, phase_locked_init(magnitude, 640, 80)), steady.shape[-1])
    assert spectral_convergence(locked, steady, front_end) < 0.1 < spectral_convergence(zero_phase, steady, front_end)
    # gliding, pulsing partials (speech-like): Griffin-Lim iterations make the start more consistent
    t = torch.arange(10240) / 16000
    pitch_phase = 2 * math.pi * torch.cumsum(140 + 40 * torch.sin(2 * math.pi * 3 * t), 0) / 16000
    gliding = (sum(torch.sin(k * pitch_phase) / k for k in range(1, 8)) * (0.6 + 0.4 * torch.sin(2 * math.pi * 5 * t)))[None, None] * 0.2
    magnitude = front_end.stft(gliding).abs()
    errors = [spectral_convergence(reconstruct_phase(magnitude, front_end, iterations), gliding, front_end)
              for iterations in (0, 8, 32)]
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < 0.2

def test_front_end_round_trip_is_exact_with_the_true_phase():
    front_end = SpectralFrontEnd(n_fft=640, stft_hop=80, hop_length=320)
    wave = torch.randn(2, 1, 3200) * 0.1
    torch.testing.assert_close(front_end.istft(front_end.stft(wave), 3200), wave, atol=1e-5, rtol=1e-4)
    assert front_end.stft(wave).shape == (2, 321, 40)


def test_phase_losses_are_zero_for_the_same_phase_and_ignore_whole_turns():
    torch.manual_seed(0)
    target = (torch.rand(1, 9, 7) - 0.5) * 2 * math.pi
    magnitude = torch.rand(1, 9, 7)
    zero = phase_losses(target + 2 * math.pi, target, magnitude)
    assert all(value.item() < 1e-5 for value in zero.values())
    shifted = phase_losses(target + 0.5, target, magnitude)
    assert shifted["ip"].item() == pytest.approx(0.5, abs=1e-4)
    assert shifted["gd"].item() < 1e-5 and shifted["iaf"].item() < 1e-5  # a constant offset has no derivative
    assert anti_wrap(torch.tensor(3 * math.pi)).item() == pytest.approx(math.pi, abs=1e-5)


def test_a_tiny_codec_learns_a_tone():
    torch.manual_seed(0)
    model = SpectralCodec(tiny_config(dim=32, latent_dim=16))
    from audiolm_lib.training.codec_objectives import SpectralObjective
    from audiolm_lib.training.codec_trainer import CodecTrainConfig

    objective = SpectralObjective(CodecTrainConfig(arch="spectral", spectral=model.config, segment_seconds=0.05),
                                  model, None)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    wave = harmonic(seconds=0.2)
    model.train()
    losses = []
    for step in range(40):
        optimizer.zero_grad()
        stats, _ = objective.backward(model, wave, 3, step)
        optimizer.step()
        losses.append(stats["loss_magnitude"])
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------------------- the fast paths equal the plain ones
def fold_istft(spec, front_end, length):
    """The plain inverse STFT: overlap-add with F.fold on bins-major [B, bins, N] (the reference of istft)."""
    import torch.nn.functional as F

    frames, hop, n_fft = spec.shape[-1], front_end.stft_hop, front_end.n_fft
    pieces = torch.fft.irfft(spec, n=n_fft, dim=1) * front_end.window[None, :, None]
    total = (frames - 1) * hop + n_fft
    folded = F.fold(pieces, output_size=(1, total), kernel_size=(1, n_fft), stride=(1, hop))
    envelope = F.fold(front_end.window.square()[None, :, None].expand(1, -1, frames), output_size=(1, total),
                      kernel_size=(1, n_fft), stride=(1, hop))
    start = n_fft // 2
    return (folded[:, 0, 0, start:start + length] / envelope[0, 0, 0, start:start + length].clamp_min(1e-8))[:, None]


def plain_locked_phase(magnitude, n_fft, hop):
    """phase_locked_init written directly on [B, bins, N] (the reference of the frame-major implementation)."""
    log_mag = torch.log(magnitude.clamp_min(1e-7))
    bins = magnitude.shape[1]
    left, centre, right = log_mag[:, :-2], log_mag[:, 1:-1], log_mag[:, 2:]
    floor = log_mag.amax(dim=1, keepdim=True) - 70.0 / 20.0 * math.log(10.0)
    is_peak = torch.zeros_like(magnitude, dtype=torch.bool)
    is_peak[:, 1:-1] = (centre > left) & (centre >= right) & (centre > floor)
    curvature = left - 2 * centre + right
    offset = torch.zeros_like(magnitude)
    safe = curvature.abs() > 1e-9
    offset[:, 1:-1] = torch.where(safe, 0.5 * (left - right) / torch.where(safe, curvature, torch.ones_like(curvature)),
                                  torch.zeros_like(curvature)).clamp(-0.5, 0.5)
    index = torch.arange(bins, dtype=magnitude.dtype)[None, :, None].expand_as(magnitude)
    big = float(bins * 4)
    below = torch.cummax(torch.where(is_peak, index, torch.full_like(index, -big)), dim=1).values
    above = torch.where(is_peak, index, torch.full_like(index, big)).flip(1).cummin(dim=1).values.flip(1)
    nearest = torch.where((index - below) <= (above - index), below, above)
    nearest = torch.where(nearest.abs() >= big, index, nearest).long().clamp_(0, bins - 1)
    advance = 2 * math.pi * torch.gather(index + offset, 1, nearest) * hop / n_fft
    accumulated = torch.remainder(torch.cumsum(advance.double(), dim=-1), 2 * math.pi).float()
    return torch.gather(accumulated, 1, nearest) + math.pi * (index - nearest.to(index.dtype))


def plain_griffin_lim(magnitude, front_end, iterations, momentum=0.99):
    """Fast Griffin-Lim with complex abs / arithmetic on bins-major spectra and the F.fold inverse STFT."""
    length = magnitude.shape[-1] * front_end.stft_hop
    current = torch.polar(magnitude, plain_locked_phase(magnitude, front_end.n_fft, front_end.stft_hop))
    target = current
    for _ in range(iterations):
        projected = front_end.stft(fold_istft(target, front_end, length))
        following = projected * (magnitude / projected.abs().clamp_min(1e-8))
        target = following + momentum * (following - current)
        current = following
    return fold_istft(current, front_end, length)


@pytest.mark.parametrize("n_fft, hop", [(640, 80), (100, 40)])  # 8 whole hops per window, and 2.5
def test_overlap_add_istft_equals_fold_and_passes_gradients(n_fft, hop):
    torch.manual_seed(0)
    front_end = SpectralFrontEnd(n_fft=n_fft, stft_hop=hop, hop_length=hop * 4)
    spec = torch.randn(2, n_fft // 2 + 1, 24, dtype=torch.cfloat)
    for length in (24 * hop, 24 * hop - 7):
        torch.testing.assert_close(front_end.istft(spec, length), fold_istft(spec, front_end, length),
                                   atol=1e-6, rtol=1e-5)
    wave = torch.randn(2, 1, 24 * hop, requires_grad=True)
    front_end.istft(front_end.stft(wave), 24 * hop).square().sum().backward()
    assert wave.grad is not None and torch.isfinite(wave.grad).all() and wave.grad.abs().sum() > 0


def test_fast_phase_reconstruction_equals_the_plain_algorithm():
    """Frame-major layout, real-view |X| and extrapolation: the same phase and wave as the plain formulation."""
    front_end = SpectralFrontEnd(n_fft=640, stft_hop=80, hop_length=320)
    t = torch.arange(16000) / 16000
    pitch_phase = 2 * math.pi * torch.cumsum(140 + 40 * torch.sin(2 * math.pi * 3 * t), 0) / 16000
    wave = (sum(torch.sin(k * pitch_phase) / k for k in range(1, 8)) * (0.6 + 0.4 * torch.sin(2 * math.pi * 5 * t)))
    wave = torch.cat([wave, 0.01 * torch.randn(4000)])[None, None] * 0.2  # a noise tail: peakless-ish frames
    magnitude = front_end.stft(wave).abs() * torch.exp(0.3 * torch.randn(1, 321, 250))  # inconsistent, as decoded
    assert torch.equal(phase_locked_init(magnitude, 640, 80), plain_locked_phase(magnitude, 640, 80))
    for iterations in (0, 3, 8):
        fast, plain = reconstruct_phase(magnitude, front_end, iterations), plain_griffin_lim(magnitude, front_end, iterations)
        assert fast.shape == plain.shape == wave.shape
        torch.testing.assert_close(fast, plain, atol=1e-4 * float(plain.abs().max()), rtol=0)
