import pytest
import torch

from audiolm_lib.audio import AudioError
from audiolm_lib.codecs.encodec import EncodecCodec, hf_to_original_state_dict, original_to_hf_key
from audiolm_lib.interfaces import CodecProtocol
from audiolm_lib.serialization import CheckpointError

transformers = pytest.importorskip("transformers")


def tiny_config(**overrides):
    values = dict(hidden_size=8, num_filters=2, codebook_size=16, codebook_dim=8, num_lstm_layers=1,
                  upsampling_ratios=[4, 2],
                  target_bandwidths=[192.0])  # 16 levels of 4 bits at 3000 Hz
    values.update(overrides)
    return transformers.EncodecConfig(**values)


def random_model(config=None):
    torch.manual_seed(0)
    model = transformers.EncodecModel(config or tiny_config()).eval()
    with torch.no_grad():  # random codebooks (the default init is zeros) so codes differ
        for layer in model.quantizer.layers:
            layer.codebook.embed.normal_()
    return model


def test_key_mapping_matches_original_names():
    assert original_to_hf_key("encoder.model.0.conv.conv.weight_g") == \
        "encoder.layers.0.conv.parametrizations.weight.original0"
    assert original_to_hf_key("decoder.model.3.convtr.convtr.weight_v") == \
        "decoder.layers.3.conv.parametrizations.weight.original1"
    assert original_to_hf_key("encoder.model.13.lstm.weight_ih_l0") == "encoder.layers.13.lstm.weight_ih_l0"
    assert original_to_hf_key("quantizer.vq.layers.5._codebook.embed") == "quantizer.layers.5.codebook.embed"


def test_original_checkpoint_round_trip(tmp_path):
    config = tiny_config()
    reference = random_model(config)
    original = hf_to_original_state_dict(reference)
    # the real encodec naming scheme, weight norm as weight_g / weight_v
    assert "encoder.model.0.conv.conv.weight_g" in original
    assert "decoder.model.3.convtr.convtr.weight_v" in original  # first upsampling layer
    assert "quantizer.vq.layers.0._codebook.embed" in original
    assert any(k.startswith("encoder.model.") and ".lstm.weight_ih_l0" in k for k in original)
    path = tmp_path / "encodec_tiny.th"
    torch.save(original, path)

    codec = EncodecCodec.from_pretrained(path, num_quantizers=12, config=tiny_config())
    assert isinstance(codec, CodecProtocol)
    assert codec.sample_rate == 24000 and codec.hop_length == 8 and codec.frame_rate == 3000
    wave = torch.randn(2, 1, 100) * 0.1
    codes = codec.encode(wave)
    assert codes.shape == (2, 12, 13) and codes.dtype == torch.long
    assert codec.bandwidth == 12 * 3000 * 4 / 1000
    reference.config.target_bandwidths = [144.0, 192.0]
    with torch.no_grad():
        direct = reference.encode(wave, bandwidth=144.0).audio_codes[0]
    assert torch.equal(codes, direct)
    assert len(set(codes.flatten().tolist())) > 1
    audio = codec.decode(codes)
    with torch.no_grad():
        direct_audio = reference.decode(direct[None], [None]).audio_values[..., :13 * 8]
    assert audio.shape == (2, 1, 104)
    torch.testing.assert_close(audio, direct_audio)
    # fewer levels decode too
    assert codec.decode(codes[:, :3]).shape == (2, 1, 104)


def test_transformers_directory(tmp_path):
    reference = random_model()
    reference.save_pretrained(tmp_path / "hf")
    codec = EncodecCodec.from_pretrained(tmp_path / "hf", num_quantizers=4)
    wave = torch.randn(1, 1, 64) * 0.1
    codes = codec.encode(wave)
    assert codes.shape == (1, 4, 8)
    from_file = tmp_path / "x.th"
    torch.save(hf_to_original_state_dict(reference), from_file)
    assert torch.equal(EncodecCodec.from_pretrained(from_file, 4, config=tiny_config()).encode(wave), codes)


def test_default_config_is_24khz_12_levels():
    codec = EncodecCodec(transformers.EncodecModel(transformers.EncodecConfig()))
    assert codec.sample_rate == 24000 and codec.frame_rate == 75 and codec.hop_length == 320
    assert codec.num_quantizers == 12 and codec.codebook_size == 1024 and codec.bandwidth == 9.0
    assert 9.0 in codec.model.config.target_bandwidths


def test_wrong_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        EncodecCodec.from_pretrained(tmp_path / "missing.th")
    garbage = tmp_path / "garbage.th"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        EncodecCodec.from_pretrained(garbage)
    other = tmp_path / "other.th"
    torch.save({"layer.weight": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="quantizer.vq.layers"):
        EncodecCodec.from_pretrained(other)
    mismatched = tmp_path / "mismatch.th"
    torch.save(hf_to_original_state_dict(random_model()), mismatched)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        EncodecCodec.from_pretrained(mismatched, config=tiny_config(hidden_size=16))
    codec = EncodecCodec(random_model(), num_quantizers=4)
    with pytest.raises(AudioError, match=r"Tensor\[B, 1, T\]"):
        codec.encode(torch.randn(1, 100))
    with pytest.raises(ValueError, match="levels"):
        codec.decode(torch.zeros(1, 5, 3, dtype=torch.long))


def test_save_pretrained_round_trip_through_the_generic_loader(tmp_path):
    from audiolm_lib.serialization import load_pretrained

    codec = EncodecCodec(random_model(), num_quantizers=12)
    codec.save_pretrained(tmp_path / "codec")
    loaded = load_pretrained(tmp_path / "codec")  # what AudioLM.from_pretrained uses for each component
    assert isinstance(loaded, EncodecCodec) and loaded.num_quantizers == 12
    wave = torch.randn(1, 1, 96) * 0.1
    codes = codec.encode(wave)
    assert torch.equal(loaded.encode(wave), codes)
    assert torch.allclose(loaded.decode(codes), codec.decode(codes))
    assert EncodecCodec.from_pretrained(tmp_path / "codec", num_quantizers=4).num_quantizers == 4
    weights = tmp_path / "codec" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:64])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_pretrained(tmp_path / "codec")
