"""fairseq HuBERT checkpoints: restricted unpickling, key mapping, identical features to the HF directory."""
import os

import pytest
import torch

from audiolm_lib.semantic.fairseq_checkpoint import load_fairseq_hubert, map_fairseq_key, safe_load_checkpoint
from audiolm_lib.semantic.features import HubertFeatures
from audiolm_lib.serialization import CheckpointError
from semantic_fairseq_fixtures import to_fairseq_state, tiny_hubert, write_fairseq_checkpoint


@pytest.fixture(scope="module")
def base_model():
    return tiny_hubert(stable=False)


@pytest.fixture(scope="module")
def large_style_model():
    return tiny_hubert(stable=True)


def _wave(seconds=0.5):
    torch.manual_seed(3)
    return 0.3 * torch.randn(2, 1, int(16000 * seconds))


@pytest.mark.parametrize("style", ["cfg", "args"])
@pytest.mark.parametrize("stable", [False, True])
def test_fairseq_and_hf_directory_give_identical_features(tmp_path, base_model, large_style_model, style, stable):
    model = large_style_model if stable else base_model
    model.save_pretrained(tmp_path / "hf")
    write_fairseq_checkpoint(model, tmp_path / "hubert.pt", style=style)
    from_hf = HubertFeatures.from_pretrained(tmp_path / "hf", layer=2)
    from_fairseq = HubertFeatures.from_pretrained(tmp_path / "hubert.pt", layer=2)
    wave = _wave()
    with torch.no_grad():
        a, b = from_hf(wave), from_fairseq(wave)
        reference = model(wave[:, 0], output_hidden_states=True).hidden_states[2]
    assert a.shape == (2, from_hf.num_frames(wave.shape[-1]), 32)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    if not stable:  # post-LN: layer 2 of the full model is exactly the truncated model's output
        torch.testing.assert_close(a, reference, rtol=1e-5, atol=1e-5)
    # every non-pretraining parameter made it across
    own = from_fairseq.model.state_dict()
    for key, value in from_hf.model.state_dict().items():
        torch.testing.assert_close(own[key], value, rtol=0, atol=0)


def test_cfg_checkpoint_config_is_read_without_omegaconf_or_fairseq(tmp_path, base_model):
    write_fairseq_checkpoint(base_model, tmp_path / "hubert.pt", style="cfg", normalize=True)
    model, normalize = load_fairseq_hubert(tmp_path / "hubert.pt")
    assert normalize is True
    assert model.config.num_hidden_layers == 3 and model.config.hidden_size == 32
    assert tuple(model.config.conv_kernel) == (10, 8, 16) and tuple(model.config.conv_stride) == (5, 4, 16)
    assert model.config.feat_extract_norm == "group"


def test_pretraining_only_keys_are_dropped_and_unknown_keys_refused():
    assert map_fairseq_key("label_embs_concat") is None
    assert map_fairseq_key("final_proj.weight") is None
    assert map_fairseq_key("encoder.pos_conv.0.weight_g") == "encoder.pos_conv_embed.conv.parametrizations.weight.original0"
    assert map_fairseq_key("encoder.pos_conv.0.parametrizations.weight.original1") == (
        "encoder.pos_conv_embed.conv.parametrizations.weight.original1")
    assert map_fairseq_key("encoder.pos_conv.0.bias") == "encoder.pos_conv_embed.conv.bias"
    assert map_fairseq_key("feature_extractor.conv_layers.0.2.weight") == "feature_extractor.conv_layers.0.layer_norm.weight"
    assert map_fairseq_key("encoder.layers.4.fc1.bias") == "encoder.layers.4.feed_forward.intermediate_dense.bias"
    with pytest.raises(CheckpointError, match="unexpected parameter"):
        map_fairseq_key("decoder.embed_tokens.weight")


class _Sneaky:
    def __reduce__(self):
        return (os.getcwd, ())


def test_disallowed_global_is_refused(tmp_path):
    torch.save({"model": {}, "payload": _Sneaky()}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="disallowed global"):
        safe_load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="disallowed global"):
        HubertFeatures.from_pretrained(tmp_path / "bad.pt", layer=1)


def test_wav2vec2_checkpoint_given_as_hubert_is_refused(tmp_path, base_model):
    state = to_fairseq_state(base_model)
    state["quantizer.vars"] = torch.randn(1, 640, 8)
    state["project_q.weight"] = torch.randn(16, 32)
    write_fairseq_checkpoint(base_model, tmp_path / "w2v.pt", style="cfg", name="wav2vec2", state=state)
    with pytest.raises(CheckpointError, match="wav2vec 2.0"):
        load_fairseq_hubert(tmp_path / "w2v.pt")


def test_corrupt_and_missing_checkpoints(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_fairseq_hubert(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="not found"):
        HubertFeatures.from_pretrained(tmp_path / "nope.pt", layer=1)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a fairseq checkpoint"):
        load_fairseq_hubert(tmp_path / "plain.pt")


def test_missing_layer_is_a_clear_error(tmp_path, base_model):
    write_fairseq_checkpoint(base_model, tmp_path / "hubert.pt")
    with pytest.raises(ValueError, match="layers 1..3; layer 7 does not exist"):
        HubertFeatures.from_pretrained(tmp_path / "hubert.pt", layer=7)


def test_long_audio_runs_in_chunks_on_the_same_frame_grid(tmp_path, base_model):
    write_fairseq_checkpoint(base_model, tmp_path / "hubert.pt")
    features = HubertFeatures.from_pretrained(tmp_path / "hubert.pt", layer=2)
    torch.manual_seed(5)
    for samples in (3200 * 3 + 17, 3200 * 2 + 60, 3200 * 2 + 500, 9000):
        wave = 0.3 * torch.randn(1, 1, samples)
        features.config.max_chunk_seconds = 30.0
        whole = features(wave)
        features.config.max_chunk_seconds = 0.2  # 3200-sample pieces (+ 25 samples of context)
        chunked = features(wave)
        assert whole.shape[1] == chunked.shape[1] == features.num_frames(samples)
        features.config.max_chunk_seconds = 100.0
        assert torch.equal(features(wave), whole)  # one piece when the audio fits


def test_waveform_normalisation_flag_is_read_from_both_formats(tmp_path, large_style_model):
    import json

    large_style_model.save_pretrained(tmp_path / "hf")
    (tmp_path / "hf" / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True}))
    write_fairseq_checkpoint(large_style_model, tmp_path / "large.pt", style="args", normalize=True)
    from_hf = HubertFeatures.from_pretrained(tmp_path / "hf", layer=3)
    from_fairseq = HubertFeatures.from_pretrained(tmp_path / "large.pt", layer=3)
    assert from_hf.config.normalize_waveform and from_fairseq.config.normalize_waveform
    wave = 0.3 * torch.randn(1, 1, 4000) + 0.2
    normalised = (wave - wave.mean()) / wave.std(unbiased=False)
    with torch.no_grad():
        torch.testing.assert_close(from_hf(wave), from_hf.model(normalised[:, 0], output_hidden_states=True).hidden_states[3],
                                   rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(from_hf(wave), from_fairseq(wave), rtol=0, atol=1e-6)
