"""audiolm_lib.config: dataclass configs from JSON/YAML files plus key=value overrides."""
import json
from dataclasses import dataclass, field

import pytest

from audiolm_lib.config import apply_override, load_config, parse_override, read_config_file


@dataclass
class Inner:
    dim: int = 8
    name: str = "x"


@dataclass
class Outer:
    lr: float = 1e-3
    betas: tuple = (0.9, 0.95)
    inner: Inner = field(default_factory=Inner)


def test_load_config_applies_file_then_overrides_with_json_values(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 0.5\ninner:\n  name: from_file\n")
    config = load_config(Outer, path, ["inner.dim=64", "betas=[0.8,0.9]", "inner.name=text value"])
    assert config == Outer(lr=0.5, betas=(0.8, 0.9), inner=Inner(dim=64, name="text value"))
    json_path = tmp_path / "c.json"
    json_path.write_text(json.dumps({"lr": 0.25}))
    assert load_config(Outer, json_path).lr == 0.25
    assert load_config(Outer) == Outer()


@pytest.mark.parametrize("override, message", [
    ("lr", "not of the form key=value"),
    ("speed=2", "unknown field 'speed'"),
    ("lr.x=2", "'lr' is not a config section"),
    ("inner.depth=2", "unknown field 'depth'"),
    (".dim=2", "empty key"),
])
def test_load_config_rejects_bad_overrides_by_name(override, message):
    with pytest.raises(ValueError, match=message):
        load_config(Outer, None, [override])


def test_read_config_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        read_config_file(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a mapping"):
        read_config_file(tmp_path / "list.json")
    (tmp_path / "empty.yml").write_text("")
    assert read_config_file(tmp_path / "empty.yml") == {}


def test_parse_and_non_strict_override_create_sections():
    assert parse_override("model.transformer.dim=64") == (["model", "transformer", "dim"], 64)
    assert parse_override("name=a=b") == (["name"], "a=b")
    data = {"model": {}}
    apply_override(data, "model.transformer.dim=64", strict=False)
    assert data == {"model": {"transformer": {"dim": 64}}}
    with pytest.raises(ValueError, match="'dim' is not a config section"):
        apply_override(data, "model.transformer.dim.x=1", strict=False)
