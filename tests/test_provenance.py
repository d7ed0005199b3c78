"""Provenance of codec tokens: a codec whose decoder alone was retrained keeps fitting the stages trained on its
codes (tokens_digest), and swap_codec (checkpoints/make_checkpoints.py swap-codec) puts such a codec into an AudioLM
folder."""
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from audiolm_lib.demo import tiny_random_audiolm
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.provenance import component_identity, identity_summary, tokens_digest
from audiolm_lib.training.shipping import swap_codec


def _perturbed(codec, prefix: str):
    clone = type(codec)(codec.config)
    clone.load_state_dict(codec.state_dict())
    with torch.no_grad():
        for name, param in clone.named_parameters():
            if name.startswith(prefix):
                param.add_(0.05 * torch.randn_like(param))
    return clone.eval()


def _stamp(model: AudioLM, codec) -> None:
    summary = identity_summary(component_identity(codec), codec)
    model.acoustic.trained_on = {"semantic_tokenizer": identity_summary(component_identity(model.semantic_tokenizer)),
                                 "codec": summary}


def test_tokens_digest_follows_the_encoder_not_the_decoder():
    codec = tiny_random_audiolm().codec
    assert tokens_digest(codec) == tokens_digest(_perturbed(codec, "decoder"))
    assert tokens_digest(codec) != tokens_digest(_perturbed(codec, "encoder"))
    assert tokens_digest(torch.nn.Linear(2, 2)) is None  # a component that does not say which weights decide ids
    summary = identity_summary(component_identity(codec), codec)
    assert summary["tokens_sha1"] == tokens_digest(codec) and "tokens_sha1" not in identity_summary(component_identity(codec))


def test_a_retrained_decoder_fits_the_stages_another_encoder_is_warned_about():
    model = tiny_random_audiolm()
    _stamp(model, model.codec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no provenance warning
        AudioLM(model.semantic_tokenizer, _perturbed(model.codec, "decoder"), model.semantic_lm, acoustic=model.acoustic)
    with pytest.warns(UserWarning, match="trained on tokens of another codec"):
        AudioLM(model.semantic_tokenizer, _perturbed(model.codec, "encoder"), model.semantic_lm, acoustic=model.acoustic)
    model.acoustic.trained_on["codec"].pop("tokens_sha1")  # a record written before tokens_sha1: weights decide
    with pytest.warns(UserWarning, match="trained on tokens of another codec"):
        AudioLM(model.semantic_tokenizer, _perturbed(model.codec, "decoder"), model.semantic_lm, acoustic=model.acoustic)


def test_swap_codec_keeps_the_stages_and_restamps_them(tmp_path):
    model = tiny_random_audiolm()
    model.acoustic.trained_on = {"codec": identity_summary(component_identity(model.codec))}  # old-style record
    folder = model.save_pretrained(tmp_path / "model", dtype="float16")  # as shipped
    clip = tmp_path / "clip.wav"
    sf.write(clip, (0.3 * np.sin(np.linspace(0, 900, 16000))).astype(np.float32), 16000)
    with pytest.warns(UserWarning, match="another codec"):  # the record was taken of the float32 weights
        tuned = _perturbed(AudioLM.from_pretrained(folder).codec, "decoder")
    tuned.save_pretrained(tmp_path / "tuned")
    with pytest.warns(UserWarning, match="another codec"):
        loaded = AudioLM.from_pretrained(folder)
    with pytest.warns(UserWarning, match="another codec"):  # unstamped, the old record names other weights
        AudioLM(loaded.semantic_tokenizer, tuned, loaded.semantic_lm, acoustic=loaded.acoustic)
    swap_codec(folder, tmp_path / "tuned", [clip])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        swapped = AudioLM.from_pretrained(folder)
    assert torch.allclose(swapped.codec.magnitude_head.weight, tuned.magnitude_head.weight.half().float())
    assert swapped.acoustic.trained_on["codec"]["tokens_sha1"] == tokens_digest(swapped.codec)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no staging or retired folder left

    _perturbed(swapped.codec, "encoder").save_pretrained(tmp_path / "other")
    with pytest.raises(SystemExit, match="encoder or codebooks differ"):
        swap_codec(folder, tmp_path / "other", [clip])
    assert torch.equal(AudioLM.from_pretrained(folder).codec.magnitude_head.weight, swapped.codec.magnitude_head.weight)
