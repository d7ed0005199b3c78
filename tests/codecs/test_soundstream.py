import pytest
import torch

from audiolm_lib.audio import AudioError
from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
from audiolm_lib.interfaces import CodecProtocol
from audiolm_lib.serialization import CheckpointError


def tiny_config(**overrides):
    values = dict(channels=4, strides=(2, 4, 5), latent_dim=16, num_quantizers=4, codebook_size=32)
    values.update(overrides)
    return SoundStreamConfig(**values)


def trained_a_little(config=None):
    model = SoundStream(config or tiny_config())
    model.train()
    model(torch.randn(2, 1, 1600) * 0.1, num_levels=model.num_quantizers)  # k-means init of every level
    return model.eval()


def test_default_rates_and_protocol():
    model = SoundStream()
    assert model.sample_rate == 16000 and model.hop_length == 320 and model.frame_rate == 50.0
    assert model.num_quantizers == 12 and model.codebook_size == 1024
    assert isinstance(model, CodecProtocol)
    codes = model.eval().encode(torch.randn(1, 1, 1000) * 0.1)  # 0.0625 s -> 4 frames (padded)
    assert codes.shape == (1, 12, 4)
    for levels in range(1, 13):
        assert model.decode(codes[:, :levels]).shape == (1, 1, 4 * 320)


def test_encode_decode_shapes_and_all_level_counts():
    model = trained_a_little()
    wave = torch.randn(3, 1, 1000) * 0.1  # not a multiple of the hop (40)
    codes = model.encode(wave)
    assert codes.shape == (3, 4, 25) and codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < 32
    for levels in range(1, 5):
        audio = model.decode(codes[:, :levels])
        assert audio.shape == (3, 1, 25 * 40) and torch.isfinite(audio).all()
    # fewer levels give a different (coarser) reconstruction
    assert not torch.allclose(model.decode(codes[:, :1]), model.decode(codes))
    assert torch.equal(model.encode(wave, num_levels=2), codes[:, :2])


def test_training_forward_uses_random_levels_and_gradients_flow():
    model = SoundStream(tiny_config()).train()
    seen = {model(torch.randn(1, 1, 400)).codes.shape[1] for _ in range(12)}
    assert len(seen) > 1 and seen <= {1, 2, 3, 4}
    out = model(torch.randn(1, 1, 400), num_levels=4)
    (out.audio.pow(2).mean() + out.commitment_loss).backward()
    assert model.encoder.layers[0].weight.grad.abs().sum() > 0
    assert model.decoder.layers[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("causal", [True, False])
def test_chunked_encoding_equals_whole(causal):
    model = trained_a_little(tiny_config(causal=causal))
    wave = torch.randn(2, 1, 8000) * 0.1
    whole = model.encode(wave)
    chunked = model.encode_chunked(wave, chunk_seconds=0.1)  # 16 chunks
    assert torch.equal(chunked, whole)
    # without context the chunk borders differ: the context is what makes it exact
    no_context = model.encode_chunked(wave, chunk_seconds=0.1, context_seconds=0.0)
    assert not torch.equal(no_context, whole)


def test_bad_inputs_are_clear_errors():
    model = SoundStream(tiny_config()).eval()
    with pytest.raises(AudioError, match=r"Tensor\[B, 1, T\]"):
        model.encode(torch.randn(1, 1000))
    with pytest.raises(AudioError, match="0 samples"):
        model.encode(torch.zeros(1, 1, 0))
    with pytest.raises(AudioError, match="NaN"):
        model.encode(torch.full((1, 1, 100), float("nan")))
    with pytest.raises(ValueError, match="levels"):
        model.decode(torch.zeros(1, 5, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 32\)"):
        model.decode(torch.full((1, 2, 3), 32, dtype=torch.long))
    with pytest.raises(ValueError, match="SoundStreamConfig.channels"):
        SoundStreamConfig(channels=0)


def test_save_load_round_trip_gives_identical_codes(tmp_path):
    model = trained_a_little()
    wave = torch.randn(1, 1, 2000) * 0.1
    model.save_pretrained(tmp_path / "codec")
    loaded = SoundStream.from_pretrained(tmp_path / "codec")
    assert loaded.config == model.config
    codes = model.encode(wave)
    assert torch.equal(loaded.encode(wave), codes)
    assert torch.equal(loaded.decode(codes), model.decode(codes))
    bigger = SoundStream(tiny_config(num_quantizers=5))
    with pytest.raises(CheckpointError):
        bigger.save_pretrained(tmp_path / "other")
        (tmp_path / "other" / "model.safetensors").replace(tmp_path / "codec" / "model.safetensors")
        SoundStream.from_pretrained(tmp_path / "codec")
