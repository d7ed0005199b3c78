"""audiolm_lib.training.shipping.assemble_folder (what checkpoints/make_checkpoints.py assemble ships) and
audiolm_lib.training.soup.average_models."""
import json
import warnings

import pytest
import torch

from audiolm_lib.demo import tiny_random_audiolm
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.provenance import component_identity, identity_summary
from audiolm_lib.serialization import load_pretrained
from audiolm_lib.training.shipping import assemble_folder
from audiolm_lib.training.soup import average_models

GOOD = {"semantic": 1.0, "codes_level1": 1.0, "codes_all": 0.98}


@pytest.fixture
def parts(tmp_path):
    model = tiny_random_audiolm()
    model.semantic_tokenizer.save_pretrained(tmp_path / "tokenizer")
    model.codec.save_pretrained(tmp_path / "codec")
    model.semantic_lm.save_pretrained(tmp_path / "semantic")
    model.acoustic.save_pretrained(tmp_path / "parallel")
    return tmp_path, {"semantic": tmp_path / "semantic", "parallel": tmp_path / "parallel"}


def test_assembled_folder_carries_the_recipe_settings_and_loads_without_a_warning(parts):
    root, stages = parts
    settings = {"sampling": {"acoustic": {"temperature": 0.5}}, "pipeline_decoding": {"postfilter_strength": 0.7},
                "semantic_decoding": {"guidance_scale": 1.5}}
    out = assemble_folder(root / "tokenizer", root / "codec", stages, settings, root / "shipped",
                          agreement_of=lambda tokenizer, codec: GOOD, record={"kind": "speech", **settings})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the stages' provenance names the half-width tokenizer and codec
        shipped = AudioLM.from_pretrained(out)
    assert shipped.config.acoustic.temperature == 0.5 and shipped.config.postfilter_strength == 0.7
    assert shipped.semantic_lm.config.guidance_scale == 1.5
    assert shipped.acoustic.trained_on["codec"] == identity_summary(component_identity(shipped.codec), shipped.codec)
    assert "codec" not in shipped.semantic_lm.trained_on  # the semantic stage never sees codec tokens
    record = json.loads((out / "recipe.json").read_text())
    assert record["kind"] == "speech" and record["token_agreement"] == GOOD
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []  # no staging folder left


def test_assemble_refuses_lost_tokens_and_unknown_settings_and_keeps_the_old_folder(parts):
    root, stages = parts
    out = assemble_folder(root / "tokenizer", root / "codec", stages, {}, root / "shipped")
    before = (out / "config.json").read_text()
    lost = dict(GOOD, codes_level1=0.9)
    with pytest.raises(SystemExit, match="do not reproduce the training tokens"):
        assemble_folder(root / "tokenizer", root / "codec", stages, {}, out, agreement_of=lambda t, c: lost)
    with pytest.raises(SystemExit, match="recipe speech: pipeline_decoding.no_such_setting"):
        assemble_folder(root / "tokenizer", root / "codec", stages, {"pipeline_decoding": {"no_such_setting": 1}},
                        out, record={"kind": "speech"})
    with pytest.raises(SystemExit, match="pipeline_decoding.acoustic"):  # a stage's sampling, not a pipeline setting
        assemble_folder(root / "tokenizer", root / "codec", stages, {"pipeline_decoding": {"acoustic": 1}}, out)
    assert (out / "config.json").read_text() == before
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []  # staging removed on refusal too


def test_average_models_is_the_elementwise_mean_and_refuses_other_shapes(tmp_path):
    first, second = tiny_random_audiolm().acoustic, tiny_random_audiolm(levels=4).acoustic
    with torch.no_grad():
        for param in second.parameters():
            param.add_(1.0)
    first.save_pretrained(tmp_path / "a")
    second.save_pretrained(tmp_path / "b")
    mean = load_pretrained(average_models([tmp_path / "a", tmp_path / "b"], tmp_path / "mean")).state_dict()
    for key, value in first.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(mean[key], value + 0.5, atol=1e-5), key
    tiny_random_audiolm(levels=2).acoustic.save_pretrained(tmp_path / "other")
    with pytest.raises(SystemExit, match="differ in names or shapes"):
        average_models([tmp_path / "a", tmp_path / "other"], tmp_path / "bad")
