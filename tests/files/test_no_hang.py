"""Hang corpus: a FIFO (or device) where the library expects a file is refused within 5 s, never opened.

Each case runs in a thread (:func:`file_cases.within`); a case that blocks fails the test and its FIFO is then
opened for writing so the thread ends.
"""
import io
import json
import tarfile

import pytest

from audiolm_lib.serialization import CheckpointError
from file_cases import invoke, refused, tracked_fifo, wav, within

LIMIT_S = 5.0


def test_config_file_fifo(tmp_path):
    for name in ("train.yaml", "train.json"):
        config = tracked_fifo(tmp_path / name)
        result = within(LIMIT_S, invoke, "train", "semantic", tmp_path / "cache", tmp_path / "run", "--config", config)
        assert refused(result, "not a regular file"), result.output


def test_token_cache_header_fifo(tmp_path):
    from audiolm_lib.training.token_cache import TokenCache

    tracked_fifo(tmp_path / "cache" / "header.json")
    with pytest.raises(CheckpointError, match="not a regular file"):
        within(LIMIT_S, TokenCache, tmp_path / "cache")


def test_token_cache_index_and_arrays_fifo(tmp_path):
    from audiolm_lib.training.cache_files import open_shard_arrays, read_index

    tracked_fifo(tmp_path / "shard_00000" / "index.json")
    tracked_fifo(tmp_path / "shard_00000" / "semantic.npy")
    with pytest.raises(CheckpointError, match="not a regular file"):
        within(LIMIT_S, read_index, tmp_path / "shard_00000")
    with pytest.raises(CheckpointError, match="not a regular file"):
        within(LIMIT_S, open_shard_arrays, tmp_path / "shard_00000", [], 2)


def test_manifest_fifo_given_to_tokenize(tmp_path):
    manifest = tracked_fifo(tmp_path / "data" / "manifest.jsonl")
    result = within(LIMIT_S, invoke, "tokenize", manifest, tmp_path / "cache", "--tokenizer", "mfcc",
                    "--codec", tmp_path / "codec")
    assert result.exit_code == 2 and "Traceback" not in result.output
    from audiolm_lib.datasets.manifest import ManifestError, read_manifest

    with pytest.raises(ManifestError, match="not a regular file"):
        within(LIMIT_S, read_manifest, manifest)


def test_transcript_fifo_read_by_data_index(tmp_path):
    wav(tmp_path / "own" / "a.wav")
    tracked_fifo(tmp_path / "own" / "a.txt")
    result = within(LIMIT_S, invoke, "data", "index", tmp_path / "own")
    assert refused(result, "not a regular file"), result.output


def test_list_of_files_fifo_given_to_train_codec(tmp_path):
    listing = tracked_fifo(tmp_path / "files.txt")
    result = within(LIMIT_S, invoke, "train", "codec", listing, tmp_path / "run", "--steps", 1)
    assert refused(result, "not a regular file"), result.output


def test_prompt_audio_fifo(tmp_path):
    prompt = tracked_fifo(tmp_path / "prompt.wav")
    from audiolm_lib.audio import AudioError, audio_info, load_audio

    for read in (audio_info, load_audio):
        with pytest.raises(AudioError, match="not a regular file"):
            within(LIMIT_S, read, prompt)


@pytest.mark.parametrize("name", ["config.json", "preprocessor_config.json", "generation_config.json"])
def test_hugging_face_folder_json_fifo(tmp_path, name):
    from audiolm_lib.codecs.encodec import EncodecCodec
    from audiolm_lib.safe_load import check_hf_directory

    folder = tmp_path / "hf"
    folder.mkdir()
    if name != "config.json":
        (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    tracked_fifo(folder / name)
    with pytest.raises(CheckpointError, match="not a regular file"):
        within(LIMIT_S, check_hf_directory, folder, "HuBERT model")
    with pytest.raises(CheckpointError, match="not a regular file"):
        within(LIMIT_S, EncodecCodec.from_pretrained, folder)


def test_checkpoint_and_kmeans_fifos(tmp_path):
    from audiolm_lib.semantic.kmeans import KMeans
    from audiolm_lib.serialization import load_pretrained

    tracked_fifo(tmp_path / "model" / "config.json")
    with pytest.raises(CheckpointError, match="not a regular file"):
        within(LIMIT_S, load_pretrained, tmp_path / "model")
    centroids = tracked_fifo(tmp_path / "kmeans.npy")
    with pytest.raises(CheckpointError, match="not a regular file"):
        within(LIMIT_S, KMeans.load, centroids)


def test_legacy_tar_checkpoint_with_a_fifo_member(tmp_path):
    """torch.load extracts a legacy tar's members to disk and reads them: a FIFO member would block it."""
    from audiolm_lib.semantic.fairseq_checkpoint import safe_load_checkpoint

    path = tmp_path / "hubert.pt"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        member = tarfile.TarInfo("\x80pickle")  # a first byte that looks like a pickle's
        member.type = tarfile.FIFOTYPE
        archive.addfile(member)
        for name in ("storages", "tensors"):
            data = json.dumps([]).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match="tar archive"):
        within(LIMIT_S, safe_load_checkpoint, path)


@pytest.mark.parametrize("value", ["100000", "1e9", "inf", "nan"])
def test_seconds_are_bounded(tmp_path, value):
    prompt = wav(tmp_path / "p.wav")
    result = within(LIMIT_S, invoke, "continue", tmp_path / "model", prompt, "--seconds", value)
    assert refused(result, "--seconds"), result.output


def test_logs_read_back_fifo(tmp_path):
    from audiolm_lib.training.metrics import MetricsLogger, read_metrics

    tracked_fifo(tmp_path / "run" / "metrics.jsonl")
    with pytest.raises(ValueError, match="not a regular file"):
        within(LIMIT_S, read_metrics, tmp_path / "run")
    with pytest.raises(ValueError, match="not a regular file"):
        within(LIMIT_S, MetricsLogger, tmp_path / "run", False)


def test_training_state_fifo(tmp_path):
    from audiolm_lib.training.state import load_training_state

    tracked_fifo(tmp_path / "run" / "step_00000010.safetensors")
    with pytest.raises(CheckpointError, match="not a regular file"), pytest.warns(UserWarning, match="moved aside"):
        within(LIMIT_S, load_training_state, tmp_path / "run")


@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_device_files_in_a_model_folder(tmp_path, name):
    from audiolm_lib.serialization import load_pretrained

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"class": "audiolm_lib.semantic.tokenizer.SemanticTokenizer", "config": {}}')
    (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to("/dev/zero")
    with pytest.raises(CheckpointError, match="not a regular file|outside"):
        within(LIMIT_S, load_pretrained, folder)


def test_audio_listed_for_hubert_training_fifo(tmp_path):
    from audiolm_lib.audio import AudioError
    from audiolm_lib.training.hubert import CropSampler

    with pytest.raises(AudioError, match="not a regular file"):
        within(LIMIT_S, CropSampler, [tracked_fifo(tmp_path / "a.wav")], 1600)
