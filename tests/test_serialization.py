import json
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from audiolm_lib.serialization import (
    CheckpointError,
    PretrainedMixin,
    config_from_dict,
    load_pretrained,
)


@dataclass
class TinyConfig:
    dim: int = 4
    sizes: tuple = (2, 3)
    name: str = "tiny"


class Tiny(nn.Module, PretrainedMixin):
    config_class = TinyConfig

    def __init__(self, config: TinyConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(10, config.dim)
        self.out = nn.Linear(config.dim, 10, bias=False)
        self.out.weight = self.embed.weight  # tied: stored once


class Other(nn.Module, PretrainedMixin):
    config_class = TinyConfig

    def __init__(self, config):
        super().__init__()
        self.config = config


def test_round_trip_with_tied_weights(tmp_path):
    model = Tiny(TinyConfig(dim=6))
    model.save_pretrained(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["config"] == {"dim": 6, "sizes": [2, 3], "name": "tiny"}
    loaded = Tiny.from_pretrained(tmp_path / "m")
    assert loaded.config == TinyConfig(dim=6)
    assert torch.equal(loaded.embed.weight, model.embed.weight)
    assert loaded.out.weight is loaded.embed.weight


def test_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        Tiny.from_pretrained(tmp_path / "nope")
    Tiny(TinyConfig(dim=6)).save_pretrained(tmp_path / "m")
    with pytest.raises(CheckpointError, match="not a Other"):
        Other.from_pretrained(tmp_path / "m")
    # a config that does not match the weights
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["config"]["dim"] = 8
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="shape mismatch"):
        Tiny.from_pretrained(tmp_path / "m")
    meta["config"]["dim"] = 6
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    # a truncated weights file
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        Tiny.from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        Tiny.from_pretrained(tmp_path / "m")


def test_unknown_config_field_and_foreign_class(tmp_path):
    with pytest.raises(CheckpointError, match="unknown field"):
        config_from_dict(TinyConfig, {"dim": 3, "depth": 9})
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "config.json").write_text(json.dumps({"class": "os.system", "config": {}}))
    with pytest.raises(CheckpointError, match="refusing"):
        load_pretrained(tmp_path / "x")


def test_atomic_save_leaves_no_partial_file(tmp_path):
    from audiolm_lib.training.state_file import load_state_file, save_state_file

    target = tmp_path / "state.safetensors"
    save_state_file({"a": 1}, target)
    with pytest.raises(TypeError, match="cannot store a object"):
        save_state_file({"a": object()}, target)  # fails before anything is written
    assert load_state_file(target) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.safetensors"]


def test_state_dict_mismatch_names_each_kind_and_accepts_tied_aliases():
    from audiolm_lib.serialization import state_dict_mismatch

    own = {"a": torch.zeros(2), "b": torch.zeros(3), "tied": torch.zeros(1)}
    assert state_dict_mismatch(dict(own), own) == []
    problems = state_dict_mismatch({"a": torch.zeros(4), "extra": torch.zeros(1)}, own)
    assert problems == ["missing 2 tensor(s), e.g. ['b', 'tied']", "unexpected 1 tensor(s), e.g. ['extra']",
                        "shape mismatch in 1 tensor(s), e.g. ['a: checkpoint (4,) vs model (2,)']"]
    assert state_dict_mismatch({"a": own["a"], "b": own["b"]}, own, aliases={"tied": ["b"]}) == []


def test_non_finite_weights_are_refused_naming_file_and_tensor(tmp_path):
    model = Tiny(TinyConfig(dim=6))
    with torch.no_grad():
        model.embed.weight[3, 2] = float("nan")
    model.save_pretrained(tmp_path / "m")
    with pytest.raises(CheckpointError, match=r"model\.safetensors contain NaN or Inf .*embed\.weight"):
        Tiny.from_pretrained(tmp_path / "m")


def test_loaded_component_must_be_the_expected_kind(tmp_path):
    from audiolm_lib.interfaces import CodecProtocol
    from audiolm_lib.lm.stages import SemanticLM, SemanticLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig

    shape = TransformerConfig(dim=8, depth=1, heads=2, max_seq_len=64)
    SemanticLM(SemanticLMConfig(vocab_size=4, window_seconds=0.5, transformer=shape)).save_pretrained(tmp_path / "lm")
    with pytest.raises(CheckpointError, match=r"lm holds a SemanticLM, not a codec"):
        load_pretrained(tmp_path / "lm", kind=CodecProtocol, what="codec")
    assert type(load_pretrained(tmp_path / "lm")).__name__ == "SemanticLM"


def test_symlinked_component_folder_loads_but_files_linking_outside_do_not(tmp_path):
    Tiny(TinyConfig(dim=6)).save_pretrained(tmp_path / "real")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)  # a linked folder is fine
    assert Tiny.from_pretrained(tmp_path / "alias").config.dim == 6
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "config.json").write_bytes((tmp_path / "real" / "config.json").read_bytes())
    (tmp_path / "linked" / "model.safetensors").symlink_to(tmp_path / "real" / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"linked/model\.safetensors: it is a symlink to .*outside"):
        Tiny.from_pretrained(tmp_path / "linked")


def test_float16_storage_halves_the_file_and_loads_back_as_float32(tmp_path):
    from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig
    from audiolm_lib.serialization import load_pretrained

    torch.manual_seed(0)
    model = SpectralCodec(SpectralCodecConfig(dim=16, encoder_depth=1, decoder_depth=1, upsampler_dim=8,
                                              upsampler_depth=1, latent_dim=8, num_quantizers=2, codebook_size=16))
    model.save_pretrained(tmp_path / "full")
    model.save_pretrained(tmp_path / "half", dtype="float16")
    full, half = (tmp_path / "full" / "model.safetensors").stat().st_size, (tmp_path / "half" / "model.safetensors").stat().st_size
    assert half < 0.55 * full
    loaded = load_pretrained(tmp_path / "half")
    for name, tensor in model.state_dict().items():
        stored = loaded.state_dict()[name]
        assert stored.dtype == tensor.dtype  # cast back to the module's dtype
        if tensor.is_floating_point():
            torch.testing.assert_close(stored, tensor.half().float(), rtol=0, atol=0)
    assert next(model.parameters()).dtype == torch.float32  # saving never changed the live model
    with pytest.raises(ValueError, match="storage dtype"):
        model.save_pretrained(tmp_path / "bad", dtype="int8")
