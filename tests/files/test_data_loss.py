"""Data loss corpus: no command overwrites or deletes a file it did not create.

Each case gives a command an output that is (or holds) one of its inputs, or a folder of a user's files, and
checks the one-line refusal and that every file is byte-for-byte as it was.
"""
import os
import subprocess
import sys
import warnings

import pytest

from audiolm_lib.atomic import remove_stale_temps
from audiolm_lib.outputs import OutputPathError, check_output_dir, check_output_file
from audiolm_lib.training.metrics import MetricsLogger, truncate_metrics
from file_cases import invoke, refused, snapshot, wav


@pytest.fixture
def user(tmp_path):
    """A user's folder: a recording, a transcript and a config.json of their own."""
    folder = tmp_path / "mine"
    wav(folder / "rec.wav")
    (folder / "rec.txt").write_text("hello\n")
    (folder / "config.json").write_text('{"my": "settings"}\n')
    return folder


def test_continue_never_writes_over_its_prompt(user, tmp_path):
    before = snapshot(user)
    (tmp_path / "link.wav").symlink_to(user / "rec.wav")
    os.link(user / "rec.wav", tmp_path / "hard.wav")
    for out in (user / "rec.wav", tmp_path / "link.wav", tmp_path / "hard.wav", user / "." / "rec.wav"):
        result = invoke("continue", tmp_path / "model", user / "rec.wav", "-o", out)
        assert refused(result, "is the input"), result.output
    assert snapshot(user) == before


def test_data_index_never_writes_over_a_recording(user):
    before = snapshot(user)
    for out in (user / "rec.wav", user / "rec.txt"):
        result = invoke("data", "index", user, "--out", out)
        assert refused(result), result.output
    assert snapshot(user) == before


def test_fit_kmeans_into_a_model_folder_or_its_audio_is_refused(user, tmp_path):
    model = tmp_path / "audiolm"
    (model / "codec").mkdir(parents=True)
    (model / "config.json").write_text('{"class": "audiolm_lib.pipeline.AudioLM"}\n')
    before, before_model = snapshot(user), snapshot(model)
    assert refused(invoke("fit-kmeans", user, "--out", model, "--clusters", 4), "not empty", "--overwrite")
    assert refused(invoke("fit-kmeans", user, "--out", user, "--clusters", 4), "is the input")
    assert refused(invoke("fit-kmeans", user / "rec.wav", "--out", tmp_path, "--clusters", 4), "contains the input")
    assert snapshot(user) == before and snapshot(model) == before_model


def test_assemble_never_replaces_its_parts_or_a_users_config(user, tmp_path):
    parts = {}
    for name in ("tok", "codec", "sem", "coarse", "fine"):
        parts[name] = tmp_path / name
        parts[name].mkdir()
        (parts[name] / "config.json").write_text('{"class": "x", "config": {}}\n')
    before = snapshot(tmp_path)
    base = ["--tokenizer", parts["tok"], "--codec", parts["codec"], "--semantic", parts["sem"],
            "--coarse", parts["coarse"], "--fine", parts["fine"]]
    assert refused(invoke("assemble", parts["tok"], *base), "is the input")
    assert refused(invoke("assemble", tmp_path, *base), "contains the input")
    assert refused(invoke("assemble", user, *base), "not empty")
    assert snapshot(tmp_path) == before


def test_training_twice_into_one_folder_needs_resume(tmp_path, user):
    run = tmp_path / "run"
    run.mkdir()
    (run / "step_00000010.safetensors").write_bytes(b"an earlier run")
    before = snapshot(run)
    assert refused(invoke("train", "codec", user, run, "--steps", 1), "not empty", "--resume")
    assert refused(invoke("train", "semantic", tmp_path / "cache", run, "--steps", 1), "not empty", "--resume")
    assert refused(invoke("train", "codec", user, user, "--steps", 1), "is the input")
    assert snapshot(run) == before

    from audiolm_lib.training.codec_trainer import CodecTrainConfig, train_codec

    with pytest.raises(ValueError, match="already holds training checkpoints"):
        train_codec(CodecTrainConfig(), [user / "rec.wav"], run)  # the library call refuses too
    assert snapshot(run) == before


def test_tokenize_writes_nothing_before_refusing_a_full_folder(user, tmp_path):
    out = tmp_path / "cache"
    out.mkdir()
    (out / "notes.md").write_text("mine\n")
    result = invoke("tokenize", user, out, "--tokenizer", "mfcc", "--codec", tmp_path / "codec")
    assert refused(result, "not empty")
    assert sorted(p.name for p in out.iterdir()) == ["notes.md"]  # no tokenizer/ fitted and left behind


def test_other_commands_refuse_a_folder_of_someone_elses_files(user, tmp_path):
    before = snapshot(user)
    assert refused(invoke("demo", "--out", user, "--checkpoint", tmp_path / "none"), "not empty", "--overwrite")
    assert refused(invoke("train-hubert", wav(tmp_path / "a.wav"), "--out", user), "not empty")
    assert refused(invoke("train-hubert", user / "rec.wav", "--out", user), "contains the input")
    assert refused(invoke("data", "piano", user, "--minutes", 0.1), "not empty")
    assert refused(invoke("data", "speech", user, "--minutes", 0.1), "not empty")
    assert refused(invoke("data", "recorded", user, "--minutes", 0.1), "not empty")
    assert snapshot(user) == before


def test_metrics_logging_leaves_a_users_csv_alone(tmp_path):
    summary = tmp_path / "metrics_summary.csv"
    summary.write_text("name,value\nloss,1.5")  # no final newline
    logger = MetricsLogger(tmp_path, tensorboard=False)
    logger.log(1, loss=2.0)
    logger.log(2, loss=1.0)
    truncate_metrics(tmp_path, 1)
    assert summary.read_text() == "name,value\nloss,1.5"
    assert (tmp_path / "metrics_train.csv").read_text().splitlines()[1:] and "step,split,time" in (
        tmp_path / "metrics_train.csv").read_text()


def test_only_the_librarys_own_temp_files_are_removed(tmp_path):
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    users = [tmp_path / ".notes.tmp", tmp_path / f".draft.wav.{dead}-abc.tmp", tmp_path / "x.tmp"]
    for path in users:
        path.write_text("mine")
    ours = tmp_path / f".~audiolm.{dead}.abc.model.safetensors.tmp"
    ours.write_text("partial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert remove_stale_temps(tmp_path) == [ours]
    assert all(p.read_text() == "mine" for p in users)


def test_output_checks_write_nothing_when_they_refuse(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.wav").write_bytes(b"x")
    with pytest.raises(OutputPathError, match="is the input"):
        check_output_file(tmp_path / "in" / "a.wav", inputs=[tmp_path / "in" / "a.wav"])
    with pytest.raises(OutputPathError, match="contains the input"):
        check_output_dir(tmp_path, inputs=[tmp_path / "in" / "a.wav"])
    with pytest.raises(OutputPathError, match="not empty"):
        check_output_dir(tmp_path / "in", fresh=True)
    assert check_output_dir(tmp_path / "in", fresh=True, overwrite=True) == tmp_path / "in"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.wav", "in"]


def test_data_index_keeps_a_users_jsonl_unless_told(user, tmp_path):
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"my": "log"}\n')
    assert refused(invoke("data", "index", user, "--out", notes), "not a manifest", "--overwrite")
    (user / "manifest.jsonl").write_text("my own list\n")
    assert refused(invoke("data", "index", user), "not a manifest")
    (user / "manifest.jsonl").unlink()
    assert notes.read_text() == '{"my": "log"}\n'
    assert invoke("data", "index", user, "--out", tmp_path / "m.jsonl").exit_code == 0
    assert invoke("data", "index", user, "--out", tmp_path / "m.jsonl").exit_code == 0  # its own manifest: rewritten
    assert invoke("data", "index", user, "--out", notes, "--overwrite").exit_code == 0
