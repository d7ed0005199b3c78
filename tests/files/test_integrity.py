"""Integrity corpus: weights of the wrong kind, paths out of their folder, bad cache indices and out-of-range
options are refused with a message naming the problem (never loaded, followed or used)."""
import json
import os
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from audiolm_lib.pipeline import AudioLM
from audiolm_lib.serialization import CheckpointError, load_pretrained
from file_cases import invoke, refused, wav
from tiny_pipeline import tiny_audiolm


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_audiolm(num_fine_quantizers=1, layout="flat").save_pretrained(tmp_path_factory.mktemp("integrity"))


def _component_with(model_dir, tmp_path, change):
    folder = tmp_path / "semantic_lm"
    shutil.copytree(model_dir / "semantic_lm", folder)
    state = load_file(folder / "model.safetensors")
    change(state)
    save_file(state, folder / "model.safetensors")
    return folder


def test_float64_weights_that_overflow_float32(model_dir, tmp_path):
    def huge(state):
        key = next(k for k, v in state.items() if v.is_floating_point())
        state[key] = torch.full_like(state[key], 1e300, dtype=torch.float64)

    with pytest.raises(CheckpointError, match="NaN or Inf"):
        load_pretrained(_component_with(model_dir, tmp_path, huge))


@pytest.mark.parametrize("dtype", [torch.int8, torch.bool, torch.int64])
def test_integer_and_bool_weights(model_dir, tmp_path, dtype):
    def retype(state):
        key = next(k for k, v in state.items() if v.is_floating_point())
        state[key] = state[key].to(dtype)

    with pytest.raises(CheckpointError, match="wrong dtype"):
        load_pretrained(_component_with(model_dir, tmp_path, retype))


def test_float16_weights_still_load(model_dir, tmp_path):
    folder = _component_with(model_dir, tmp_path, lambda s: s.update({k: v.half() for k, v in s.items()
                                                                      if v.is_floating_point()}))
    assert load_pretrained(folder) is not None


@pytest.mark.parametrize("entry", ["../outside", "/tmp", ".", "a/../../b", "semantic_lm/../../x"])
def test_component_paths_out_of_the_model_folder(model_dir, tmp_path, entry):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    meta = json.loads((folder / "config.json").read_text())
    meta["components"]["semantic_lm"] = entry
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="component 'semantic_lm'"):
        AudioLM.from_pretrained(folder)


def test_component_symlink_out_of_the_model_folder(model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    shutil.move(folder / "semantic_lm", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", folder / "semantic_lm")
    with pytest.raises(CheckpointError, match="outside the model folder"):
        AudioLM.from_pretrained(folder)
    assert refused(invoke("continue", folder, wav(tmp_path / "p.wav"), "-o", tmp_path / "o.wav"), "outside")


def _cache(tmp_path, shard_name="shard_00000", offset=0):
    folder = tmp_path / "cache"
    shard = folder / "shards" / "shard_00000"
    shard.mkdir(parents=True)
    np.save(shard / "semantic.npy", np.zeros(10, np.uint16))
    np.save(shard / "acoustic.npy", np.zeros((10, 2), np.uint16))
    item = {"id": "a", "split": "train", "semantic_offset": offset, "semantic_length": 10,
            "acoustic_offset": 0, "acoustic_length": 10}
    (shard / "index.json").write_text(json.dumps([item]))
    header = {"format_version": 1, "complete": True, "semantic_rate": 50.0, "acoustic_rate": 50.0,
              "num_quantizers": 2, "codebook_size": 16, "semantic_vocab_size": 16,
              "shards": [{"name": shard_name, "num_items": 1}]}
    (folder / "header.json").write_text(json.dumps(header))
    return folder


def test_token_cache_reads_a_valid_cache(tmp_path):
    from audiolm_lib.training.token_cache import TokenCache

    assert TokenCache(_cache(tmp_path))[0]["acoustic"].shape == (2, 10)


@pytest.mark.parametrize("name", ["../../elsewhere", "/etc", "shard_0", "shard_00000/../../x", 7])
def test_token_cache_shard_names(tmp_path, name):
    from audiolm_lib.training.token_cache import TokenCache

    with pytest.raises(CheckpointError, match="not a shard name"):
        TokenCache(_cache(tmp_path, shard_name=name))


@pytest.mark.parametrize("offset", [5, -1, "0", 10**12])
def test_token_cache_index_offsets(tmp_path, offset):
    from audiolm_lib.training.token_cache import TokenCache

    with pytest.raises(CheckpointError, match="invalid semantic_offset|past the end"):
        TokenCache(_cache(tmp_path, offset=offset))[0]


def test_nan_centroids(tmp_path):
    from audiolm_lib.semantic.kmeans import KMeans

    path = tmp_path / "kmeans.npy"
    np.save(path, np.full((4, 3), np.nan, np.float32))
    with pytest.raises(CheckpointError, match="NaN or Inf"):
        KMeans.load(path)
    with pytest.raises(ValueError, match="NaN or Inf"):
        KMeans(4, 3, torch.full((4, 3), float("nan")))


@pytest.mark.parametrize("command,args,option", [
    ("continue", ["--temperature", "nan"], "--temperature"),
    ("continue", ["--temperature", "-1"], "--temperature"),
    ("continue", ["--top-p", "0"], "--top-p"),
    ("fit-kmeans", ["--chunk-seconds", "0"], "--chunk-seconds"),
    ("fit-kmeans", ["--max-frames", "0"], "--max-frames"),
    ("fit-kmeans", ["--batch-frames", "0"], "--batch-frames"),
    ("fit-kmeans", ["--clusters", "1"], "--clusters"),
    ("train-semantic", ["--stop-after", "-1"], "--stop-after"),
    ("train-semantic", ["--steps", "0"], "--steps"),
])
def test_out_of_range_options(tmp_path, command, args, option):
    audio = wav(tmp_path / "in" / "a.wav")
    if command == "continue":
        result = invoke("continue", tmp_path / "model", audio, *args)
    elif command == "fit-kmeans":
        result = invoke("fit-kmeans", audio, "--out", tmp_path / "tok", *args)
    else:
        result = invoke("train", "semantic", tmp_path / "cache", tmp_path / "run", *args)
    assert refused(result, option), result.output
    assert not (tmp_path / "tok").exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd", "missing.safetensors", 5])
def test_sharded_weights_index_out_of_the_folder(tmp_path, shard):
    from audiolm_lib.safe_load import check_hf_directory

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": shard}}))
    with pytest.raises(CheckpointError, match="not a safetensors file of the folder"):
        check_hf_directory(tmp_path, "HuBERT model")
