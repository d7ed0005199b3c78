import math

import pytest
import torch

from audiolm_lib.eval.codec_metrics import codebook_usage, codec_report, mel_distance, si_sdr


def _sine(seconds=0.5, rate=16000, freq=220.0):
    t = torch.arange(int(seconds * rate)) / rate
    return 0.5 * torch.sin(2 * math.pi * freq * t)


def test_si_sdr_identical_is_very_high_and_scale_invariant():
    ref = _sine()
    assert si_sdr(ref, ref).item() > 100
    est = ref + 0.05 * torch.randn_like(ref)
    base = si_sdr(ref, est).item()
    for scale in (0.01, 0.5, 3.0, 100.0):
        assert si_sdr(ref, scale * est).item() == pytest.approx(base, abs=1e-6)


def test_si_sdr_known_value_for_orthogonal_noise():
    ref = _sine().double()
    noise = torch.randn_like(ref)
    noise -= noise.mean()
    centred = ref - ref.mean()
    noise -= (noise @ centred) / (centred @ centred) * centred  # orthogonal to the target
    for target_db in (0.0, 10.0, 20.0):
        scaled = noise * torch.sqrt((centred @ centred) / (noise @ noise) / 10 ** (target_db / 10))
        assert si_sdr(ref, ref + scaled).item() == pytest.approx(target_db, abs=1e-6)


def test_si_sdr_batched_and_shape_errors():
    ref = torch.stack([_sine(), _sine(freq=440.0)])
    est = ref.clone()
    est[1] += 0.1 * torch.randn_like(est[1])
    values = si_sdr(ref, est)
    assert values.shape == (2,) and values[0] > 100 > values[1]
    with pytest.raises(ValueError, match="same shape"):
        si_sdr(ref, est[:, :-1])


def test_mel_distance_zero_for_identical_and_grows_with_noise():
    ref = _sine()
    assert mel_distance(ref, ref, 16000).item() == 0.0
    small = mel_distance(ref, ref + 0.001 * torch.randn_like(ref), 16000).item()
    large = mel_distance(ref, ref + 0.1 * torch.randn_like(ref), 16000).item()
    assert 0 < small < large
    short = torch.randn(100)  # shorter than one FFT window
    assert mel_distance(short, short, 16000).item() == 0.0 and mel_distance(short, 0.5 * short, 16000).item() > 0.1


def test_codebook_usage_exact_on_constructed_codes():
    size = 16
    level_constant = torch.full((32,), 5)
    level_uniform = torch.arange(16).repeat(2)
    level_two = torch.tensor([0, 1]).repeat(16)
    codes = torch.stack([level_constant, level_uniform, level_two]).reshape(3, 2, 16).transpose(0, 1)  # [B=2, Q=3, F=16]
    usage = codebook_usage(codes, size)
    assert [u["level"] for u in usage] == [0, 1, 2]
    assert usage[0]["perplexity"] == pytest.approx(1.0) and usage[0]["fraction_used"] == 1 / 16
    assert usage[1]["perplexity"] == pytest.approx(16.0) and usage[1]["fraction_used"] == 1.0
    assert usage[2]["perplexity"] == pytest.approx(2.0) and usage[2]["entropy_bits"] == pytest.approx(1.0)
    assert usage[2]["codes_used"] == 2


def test_codebook_usage_rejects_bad_codes():
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        codebook_usage(torch.tensor([[[0, 8]]]), 8)
    with pytest.raises(ValueError, match="integer codes"):
        codebook_usage(torch.zeros(1, 2, 3), 8)


class ScalarRVQCodec:
    """A sample-wise residual scalar quantizer that follows CodecProtocol (hop 1)."""

    sample_rate, hop_length, frame_rate = 16000, 1, 16000.0

    def __init__(self, num_quantizers=2, codebook_size=16):
        self.num_quantizers, self.codebook_size = num_quantizers, codebook_size

    def _scale(self, level):
        return (1.0 / (self.codebook_size - 1)) ** level

    def encode(self, wave):
        residual, codes = wave[:, 0].double(), []
        for level in range(self.num_quantizers):
            scale = self._scale(level)
            index = torch.round((residual / scale + 1) / 2 * (self.codebook_size - 1)).clamp(0, self.codebook_size - 1)
            residual = residual - self._value(index, level)
            codes.append(index.long())
        return torch.stack(codes, dim=1)

    def _value(self, index, level):
        return (index.double() * 2 / (self.codebook_size - 1) - 1) * self._scale(level)

    def decode(self, codes):
        return sum(self._value(codes[:, q], q) for q in range(codes.shape[1]))[:, None].float()


def test_codec_report_on_a_protocol_codec():
    codec = ScalarRVQCodec()
    waves = [_sine(0.25), _sine(0.2, freq=330.0)[None]]
    full = codec_report(codec, waves, 16000)
    coarse = codec_report(codec, waves, 16000, num_quantizers=1)
    assert full["num_waves"] == 2 and len(full["si_sdr_per_wave"]) == 2
    assert full["seconds"] == pytest.approx(0.45)
    assert coarse["si_sdr"] > 15 and full["si_sdr"] > coarse["si_sdr"] + 15  # the second level refines
    assert full["mel_distance"] < coarse["mel_distance"]
    assert len(full["codebook_usage"]) == 2 and len(coarse["codebook_usage"]) == 1
    pooled = torch.cat([codec.encode(w.reshape(1, 1, -1))[0] for w in waves], dim=-1)
    assert full["codebook_usage"] == codebook_usage(pooled, 16)


def test_codec_report_resamples_and_checks_input():
    codec = ScalarRVQCodec()
    report = codec_report(codec, [_sine(0.25, rate=8000)], 8000)
    assert report["seconds"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="at least one wave"):
        codec_report(codec, [], 16000)
    with pytest.raises(ValueError, match="num_quantizers"):
        codec_report(codec, [_sine(0.1)], 16000, num_quantizers=3)
    with pytest.raises(ValueError, match="one wave"):
        codec_report(codec, [torch.zeros(2, 1, 100)], 16000)
    with pytest.raises(ValueError, match="CodecProtocol"):
        codec_report(object(), [_sine(0.1)], 16000)
