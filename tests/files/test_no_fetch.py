"""Fetch corpus: a config field that would make transformers resolve hub content (an attention kernel named
"<org>/<repo>", remote code, an auto_map) is refused before anything is built, and no connection is tried."""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from audiolm_lib.safe_load import check_hf_directory, offline_hub
from audiolm_lib.serialization import CheckpointError, load_pretrained

HUB_FIELDS = [
    ("_attn_implementation", "kernels-community/flash-attn"),
    ("attn_implementation", "some-org/some-kernel"),
    ("_attn_implementation", "flash_attention_2"),  # not installed: transformers would fetch a kernel instead
    ("trust_remote_code", True),
    ("auto_map", {"AutoModel": "org/repo--modeling.Model"}),
    ("use_kernels", True),
    ("kernel_config", {"kernel_mapping": {}}),
]


def _tiny_hubert_config() -> dict:
    from transformers import HubertConfig

    return HubertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                        conv_dim=(32, 32), conv_kernel=(10, 3), conv_stride=(5, 2), num_conv_pos_embeddings=16,
                        num_conv_pos_embedding_groups=2).to_dict()


@pytest.fixture(scope="module")
def hubert_tokenizer(tmp_path_factory):
    from audiolm_lib.semantic.features import FeatureConfig, HubertFeatures
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer

    features = HubertFeatures(FeatureConfig(kind="hubert", layer=1, model_config=_tiny_hubert_config()))
    folder = tmp_path_factory.mktemp("tok") / "tokenizer"
    SemanticTokenizer.from_features(features, torch.randn(4, 32)).save_pretrained(folder)
    return folder


@pytest.fixture
def no_network(monkeypatch):
    tried = []

    def connect(self, address):
        tried.append(address)
        raise OSError("network use in a test of audiolm_lib")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: connect(None, address))
    return tried


@pytest.mark.parametrize("field,value", HUB_FIELDS)
def test_tokenizer_config_naming_hub_content_is_refused(hubert_tokenizer, tmp_path, no_network, field, value):
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "model.safetensors").symlink_to(hubert_tokenizer / "model.safetensors")
    meta = json.loads((hubert_tokenizer / "config.json").read_text())
    meta["config"]["features"]["model_config"][field] = value
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="refusing.*(hub|kernel)"):
        load_pretrained(folder)
    assert no_network == []


def test_the_unchanged_tokenizer_loads(hubert_tokenizer, no_network):
    assert load_pretrained(hubert_tokenizer).vocab_size == 4
    assert no_network == []


@pytest.mark.parametrize("field,value", HUB_FIELDS[:4])
def test_hugging_face_folder_naming_hub_content_is_refused(tmp_path, field, value):
    (tmp_path / "config.json").write_text(json.dumps(dict(_tiny_hubert_config(), **{field: value})))
    (tmp_path / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(CheckpointError, match="refusing.*(hub|kernel)"):
        check_hf_directory(tmp_path, "HuBERT model")


def test_offline_mode_is_set_only_inside_the_loading_call(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    import huggingface_hub.constants as constants

    before = constants.HF_HUB_OFFLINE
    with offline_hub():
        assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.HF_HUB_OFFLINE is True
    assert "HF_HUB_OFFLINE" not in os.environ and "TRANSFORMERS_OFFLINE" not in os.environ
    assert constants.HF_HUB_OFFLINE == before


def test_importing_the_library_changes_no_environment():
    code = ("import os; before = dict(os.environ); import audiolm_lib, audiolm_lib.cli, audiolm_lib.pipeline, "
            "audiolm_lib.semantic.features; print(dict(os.environ) == before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if "OFFLINE" not in k})
    assert out.stdout.strip() == "True", out.stderr


def test_local_attention_settings_are_accepted():
    from audiolm_lib.safe_load import check_hf_model_config

    for value in (None, "eager", "sdpa"):
        check_hf_model_config(dict(_tiny_hubert_config(), _attn_implementation=value,
                                   _attn_implementation_autoset=True), "config")


@pytest.mark.parametrize("name,field", [("generation_config.json", "custom_generate"),
                                        ("preprocessor_config.json", "auto_map")])
def test_other_json_of_a_hugging_face_folder_naming_hub_content(tmp_path, name, field):
    (tmp_path / "config.json").write_text(json.dumps(_tiny_hubert_config()))
    (tmp_path / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    (tmp_path / name).write_text(json.dumps({field: "org/repo"}))
    with pytest.raises(CheckpointError, match="refusing.*(hub|kernel)"):
        check_hf_directory(tmp_path, "HuBERT model")
