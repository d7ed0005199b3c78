"""The stage registry: each kind's batch is its model's forward arguments, a new kind is picked up everywhere, and
the acoustic generators assemble into an AudioLM."""
import dataclasses
import inspect

import pytest
import torch
from typer.testing import CliRunner

from audiolm_lib.training import stages
from audiolm_lib.training.config import StageTrainConfig
from audiolm_lib.training.crops import CropSpec, crop_item
from audiolm_lib.training.stages import STAGE_KINDS, assemble_audiolm, generator_stages, stage_kind


@pytest.mark.parametrize("name", list(STAGE_KINDS))
def test_batch_keys_are_the_models_forward_arguments_and_crops_make_them(name):
    kind = stage_kind(name)
    model_cls, config_cls = kind.classes()
    assert dataclasses.is_dataclass(config_cls) and hasattr(model_cls, "save_pretrained")
    parameters = inspect.signature(model_cls.forward).parameters
    assert all(key in parameters for key in kind.batch_keys), (name, list(parameters))
    item = {"semantic": torch.arange(100), "acoustic": torch.arange(12 * 100).view(12, 100)}
    spec = CropSpec(stage=name, seconds=1.0, semantic_rate=50.0, acoustic_rate=50.0, num_coarse=4, num_fine=8)
    crop = crop_item(item, spec, 1.0, 0.5)
    assert set(crop) == set(kind.batch_keys)
    shapes = {"semantic": (50,), "coarse": (4, 50), "fine": (8, 50), "codes": (12, 50)}
    assert {key: tuple(value.shape) for key, value in crop.items()} == {key: shapes[key] for key in kind.batch_keys}
    assert kind.uses_codec == (name != "semantic")


def test_a_new_kind_is_one_registry_entry(monkeypatch):
    from audiolm_lib.cli import build_app

    extra = dataclasses.replace(STAGE_KINDS["semantic"], name="semantic_copy", summary="A registered test kind.")
    monkeypatch.setitem(STAGE_KINDS, "semantic_copy", extra)
    assert StageTrainConfig(stage="semantic_copy").resolved_crop_seconds == 30.0
    assert CropSpec(stage="semantic_copy", seconds=1.0, semantic_rate=50.0, acoustic_rate=50.0).keys == ("semantic",)
    result = CliRunner().invoke(build_app(), ["train", "semantic_copy", "--help"])
    assert result.exit_code == 0 and "A registered test kind." in result.output
    with pytest.raises(ValueError, match="unknown stage 'nope'"):
        StageTrainConfig(stage="nope")
    with pytest.raises(ValueError, match="for the parallel stage only"):
        StageTrainConfig(stage="semantic", prompt_elsewhere=0.5)


def test_acoustic_generators_assemble():
    from tiny_pipeline import tiny_audiolm, tiny_shipped_audiolm

    assert generator_stages("parallel") == ("parallel",) and generator_stages("hierarchical") == ("coarse", "fine")
    with pytest.raises(ValueError, match="unknown acoustic generator"):
        generator_stages("diffusion")
    shipped, paper = tiny_shipped_audiolm(), tiny_audiolm()
    parallel = assemble_audiolm(shipped.semantic_tokenizer, shipped.codec,
                                {"semantic": shipped.semantic_lm, "parallel": shipped.acoustic})
    assert parallel.acoustic is shipped.acoustic and parallel.coarse_lm is None
    pair = assemble_audiolm(paper.semantic_tokenizer, paper.codec, {"semantic": paper.semantic_lm,
                                                                   "coarse": paper.coarse_lm, "fine": paper.fine_lm})
    assert pair.coarse_lm is paper.coarse_lm and pair.fine_lm is paper.fine_lm
    assert stages.STAGES == tuple(STAGE_KINDS)
