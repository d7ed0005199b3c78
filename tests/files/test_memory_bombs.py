"""Memory-bomb corpus: inputs under 1 MB that ask for gigabytes are refused before the allocation.

Each case checks the refusal names the reason (a bound, a header, a size) and that the process's peak memory
grew by far less than 1 GB while refusing it.
"""
import json
import resource
import struct

import numpy as np
import pytest
import soundfile as sf

from audiolm_lib.inputs import InputFileError
from audiolm_lib.serialization import CheckpointError, load_pretrained
from file_cases import invoke, refused, wav
from tiny_pipeline import tiny_audiolm

GB_KIB = 1024 * 1024  # ru_maxrss is in KiB


def refused_cheaply(expected, match, func, *args, **kwargs):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(expected, match=match):
        func(*args, **kwargs)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < GB_KIB // 4


YAML_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n" for a, b in zip("abcdefgh", "bcdefghi"))


def test_yaml_alias_bomb(tmp_path):
    from audiolm_lib.training.config import load_stage_config

    path = tmp_path / "bomb.yaml"
    path.write_text(YAML_BOMB)
    assert len(YAML_BOMB) < 1000
    refused_cheaply(ValueError, "anchors and aliases", load_stage_config, path, stage="semantic")
    result = invoke("train", "semantic", tmp_path / "cache", tmp_path / "run", "--config", path)
    assert refused(result, "anchors and aliases"), result.output


def test_deeply_nested_yaml_and_json(tmp_path):
    from audiolm_lib.config import read_config_file

    (tmp_path / "deep.yaml").write_text("".join(" " * k + f"k{k}:\n" for k in range(200)) + " " * 200 + "v: 1\n")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    for name in ("deep.yaml", "deep.json"):
        refused_cheaply(InputFileError, "nested", read_config_file, tmp_path / name)


def test_wav_declaring_one_hertz(tmp_path):
    from audiolm_lib.audio import AudioError, load_audio

    path = tmp_path / "slow.wav"
    sf.write(path, np.zeros(400_000, np.int16), 16000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<I", 1)  # the header's sample rate
    data[28:32] = struct.pack("<I", 2)  # byte rate
    path.write_bytes(bytes(data))
    refused_cheaply(AudioError, "sample rate of 1 Hz", load_audio, path, sample_rate=16000)


@pytest.mark.parametrize("name", ["config.json", "manifest.jsonl"])
def test_sparse_huge_files(tmp_path, name):
    from audiolm_lib.datasets.manifest import ManifestError, read_manifest

    path = tmp_path / "model" / name
    path.parent.mkdir()
    with open(path, "wb") as handle:
        handle.truncate(20 * 1024**3)  # 20 GB, no blocks on disk
    if name == "config.json":
        refused_cheaply(CheckpointError, "more than", load_pretrained, path.parent)
    else:
        refused_cheaply(ManifestError, "more than", read_manifest, path)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tiny_audiolm(num_fine_quantizers=1, layout="flat").save_pretrained(tmp_path_factory.mktemp("bomb_model"))


def _safetensors_with_extra(path, name, shape):
    """Append a sparse tensor entry to an existing safetensors file's header (the data area is left sparse)."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    nbytes = 4 * int(np.prod(shape))
    header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [len(body), len(body) + nbytes]}
    encoded = json.dumps(header).encode()
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded + body)
        handle.truncate(8 + len(encoded) + len(body) + nbytes)


def test_safetensors_with_a_16_gb_extra_tensor(tiny_dir, tmp_path):
    import shutil

    folder = tmp_path / "semantic_lm"
    shutil.copytree(tiny_dir / "semantic_lm", folder)
    _safetensors_with_extra(folder / "model.safetensors", "extra", (4, 1024, 1024, 1024))
    refused_cheaply(CheckpointError, "unexpected 1 tensor", load_pretrained, folder)


@pytest.mark.parametrize("field,value", [("dim", 10**9), ("depth", 10**5), ("heads", 10**6), ("max_seq_len", 10**12),
                                         ("dim", 16384)])
def test_huge_dims_in_config_json(tiny_dir, tmp_path, field, value):
    import shutil

    folder = tmp_path / "semantic_lm"
    shutil.copytree(tiny_dir / "semantic_lm", folder)
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["transformer"][field] = value
    if field == "dim" and value == 16384:  # within the field bound: the model as a whole is too large
        meta["config"]["transformer"]["depth"] = 256
    (folder / "config.json").write_text(json.dumps(meta))
    refused_cheaply(CheckpointError, "outside the accepted range|parameters|invalid", load_pretrained, folder)


def test_huge_vocabulary_in_config_json(tiny_dir, tmp_path):
    import shutil

    folder = tmp_path / "semantic_lm"
    shutil.copytree(tiny_dir / "semantic_lm", folder)
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["vocab_size"] = 10**9
    (folder / "config.json").write_text(json.dumps(meta))
    refused_cheaply(CheckpointError, "vocab_size", load_pretrained, folder)


def test_huge_dims_through_set_and_training_configs(tmp_path):
    from audiolm_lib.training.config import load_stage_config
    from audiolm_lib.training.trainer import build_stage_model

    for override in ("model.transformer.dim=1000000000", "model.transformer.depth=100000", "model.vocab_size=1e9"):
        config = load_stage_config(None, [override], stage="semantic")
        refused_cheaply(CheckpointError, "outside the accepted range", build_stage_model, config)
    config = load_stage_config(None, ["model.transformer.dim=16384", "model.transformer.depth=256"], stage="semantic")
    refused_cheaply(CheckpointError, "parameters", build_stage_model, config)


def test_fairseq_layer_spec_bomb():
    from audiolm_lib.semantic.fairseq_checkpoint import hubert_config_from_fairseq

    refused_cheaply(CheckpointError, "256 convolution layers", hubert_config_from_fairseq,
                    {"conv_feature_layers": "[(512,10,5)] * 1000000000"})


def test_token_cache_header_with_huge_sizes(tmp_path):
    from audiolm_lib.training.token_cache import TokenCache

    folder = tmp_path / "cache"
    folder.mkdir()
    header = {"format_version": 1, "complete": True, "shards": [], "semantic_rate": 50.0, "acoustic_rate": 50.0,
              "num_quantizers": 10**9, "codebook_size": 1024, "semantic_vocab_size": 500}
    (folder / "header.json").write_text(json.dumps(header))
    refused_cheaply(CheckpointError, "num_quantizers", TokenCache, folder)


def test_kmeans_npy_claiming_four_billion_rows(tmp_path):
    from audiolm_lib.semantic.kmeans import KMeans

    path = tmp_path / "kmeans.npy"
    header = {"descr": "<f4", "fortran_order": False, "shape": (4_000_000_000, 39)}
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(b"\0" * 1024)
    refused_cheaply(CheckpointError, "num_clusters|more than the file holds", KMeans.load, path)


@pytest.mark.parametrize("args", [("--seconds", "1e9"), ("--prompt-seconds", "nan"), ("--top-k", "0")])
def test_generation_lengths_are_bounded(tmp_path, args):
    result = invoke("continue", tmp_path / "model", wav(tmp_path / "p.wav"), *args)
    assert refused(result, args[0]), result.output


@pytest.mark.parametrize("dims", [{"encoder_embed_dim": 10**6}, {"encoder_layers": 10**5},
                                  {"encoder_embed_dim": 16384, "encoder_layers": 256, "encoder_ffn_embed_dim": 65536}])
def test_fairseq_args_asking_for_a_huge_model(tmp_path, dims):
    import argparse

    import torch

    from audiolm_lib.semantic.fairseq_checkpoint import load_fairseq_hubert

    args = argparse.Namespace(arch="hubert", encoder_embed_dim=32, encoder_layers=1, encoder_attention_heads=2,
                              encoder_ffn_embed_dim=64, conv_feature_layers="[(32,10,5)] + [(32,3,2)]", conv_pos=16,
                              conv_pos_groups=2)
    vars(args).update(dims)
    path = tmp_path / "hubert.pt"
    torch.save({"args": args, "model": {"feature_extractor.conv_layers.0.0.weight": torch.zeros(1)}}, path)
    refused_cheaply(CheckpointError, "outside the accepted range|parameters", load_fairseq_hubert, path)


def test_hugging_face_folder_config_asking_for_a_huge_model(tmp_path):
    from transformers import HubertConfig

    from audiolm_lib.semantic.features import HubertFeatures

    config = HubertConfig(hidden_size=16384, num_hidden_layers=256, num_attention_heads=256, intermediate_size=65536)
    (tmp_path / "config.json").write_text(config.to_json_string())
    (tmp_path / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    refused_cheaply(CheckpointError, "parameters", HubertFeatures.from_pretrained, tmp_path, 1)
