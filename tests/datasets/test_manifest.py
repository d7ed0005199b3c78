"""Manifests: round trip, clear errors for missing/corrupt files, stable hash split, folder indexing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audiolm_lib.audio import save_audio
from audiolm_lib.datasets.manifest import ManifestError, manifest_from_folder, read_manifest, stable_split, write_manifest


def test_round_trip_resolves_audio_paths(tmp_path):
    entries = [
        {"id": "a", "audio": "audio/a.wav", "duration": 1.0, "sample_rate": 16000, "split": "train", "speaker": "s", "text": "hi"},
        {"id": "b", "audio": "audio/b.wav", "duration": 2.0, "sample_rate": 16000},
    ]
    path = write_manifest(tmp_path / "manifest.jsonl", entries)
    read = read_manifest(path)
    assert [e["id"] for e in read] == ["a", "b"]
    assert read[0]["audio"] == str((tmp_path / "audio/a.wav").resolve())
    assert read[1]["split"] == "train"  # default
    assert read_manifest(tmp_path, resolve=False)[0] == entries[0]  # a folder works too


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "manifest not found"),
        ("", "has no entries"),
        ('{"id": "a", "audio": "x.wav"}\n{"id": "b", "aud', "line 2: not valid JSON"),
        ('[1, 2]\n', "expected a JSON object"),
        ('{"id": "a"}\n', "lacks required field"),
        ('{"id": "a", "audio": "x.wav"}\n{"id": "a", "audio": "y.wav"}\n', "duplicate id 'a'"),
    ],
)
def test_manifest_errors(tmp_path, content, message):
    path = tmp_path / "manifest.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ManifestError, match=message):
        read_manifest(path)


def test_check_files(tmp_path):
    write_manifest(tmp_path / "manifest.jsonl", [{"id": "a", "audio": "missing.wav"}])
    assert len(read_manifest(tmp_path)) == 1
    with pytest.raises(ManifestError, match="audio file not found"):
        read_manifest(tmp_path, check_files=True)


def test_stable_split_is_deterministic_and_near_the_fraction():
    names = [f"piece_{k}" for k in range(2000)]
    first = [stable_split(n, 0.1) for n in names]
    assert first == [stable_split(n, 0.1) for n in names]
    assert 0.07 < first.count("valid") / len(names) < 0.13
    assert all(stable_split(n, 0.0) == "train" for n in names[:50])
    with pytest.raises(ValueError, match="valid_fraction"):
        stable_split("x", 1.0)


def test_manifest_from_folder(tmp_path):
    save_audio(tmp_path / "own/a.wav", np.zeros((1, 8000), np.float32), 16000)
    save_audio(tmp_path / "own/sub/b.flac", np.zeros((1, 4000), np.float32), 8000)
    (tmp_path / "own/a.txt").write_text("hello there\n")
    path = manifest_from_folder(tmp_path / "own")
    entries = read_manifest(path)
    assert [e["id"] for e in entries] == ["a", "sub/b"]
    assert entries[0]["text"] == "hello there" and entries[0]["duration"] == 0.5
    assert entries[1]["sample_rate"] == 8000 and Path(entries[1]["audio"]).exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no audio files"):
        manifest_from_folder(tmp_path / "empty")


def test_a_small_folder_still_gets_one_validation_file(tmp_path, capsys):
    from typer.testing import CliRunner

    from audiolm_lib.cli import build_app

    for k in range(20):
        save_audio(tmp_path / f"own/clip{k:02d}.wav", np.zeros((1, 1600), np.float32), 16000)
    splits = [e["split"] for e in read_manifest(manifest_from_folder(tmp_path / "own", tmp_path / "m1.jsonl"))]
    assert splits.count("valid") >= 1 and splits.count("train") >= 18
    none = read_manifest(manifest_from_folder(tmp_path / "own", tmp_path / "m0.jsonl", valid_fraction=0.0))
    assert all(e["split"] == "train" for e in none)
    result = CliRunner().invoke(build_app(), ["data", "index", str(tmp_path / "own")])
    assert result.exit_code == 0, result.output
    assert f"{splits.count('valid')} of 20 files held out for validation" in result.output
    result = CliRunner().invoke(build_app(), ["data", "index", str(tmp_path / "own"), "--out",
                                              str(tmp_path / "m2.jsonl"), "--valid-fraction", "0"])
    assert "no validation split" in result.output


def test_read_manifest_without_ids_when_allowed_and_list_audio_files(tmp_path):
    from audiolm_lib.datasets.manifest import list_audio_files

    manifest = tmp_path / "train.jsonl"
    manifest.write_text('{"audio": "a.wav"}\n{"audio": "a.wav"}\n{"id": "b", "audio": "b.wav"}\n')
    with pytest.raises(ManifestError, match=r"line 1: entry lacks required field\(s\) \['id'\]"):
        read_manifest(manifest)
    entries = read_manifest(manifest, resolve=False, require_id=False)
    assert [(e["id"], e["audio"]) for e in entries] == [("a.wav", "a.wav"), ("a.wav", "a.wav"), ("b", "b.wav")]
    (tmp_path / "x" / "y").mkdir(parents=True)
    for name in ("x/y/2.WAV", "x/1.flac", "x/notes.txt", "x/3.aiff"):
        (tmp_path / name).write_bytes(b"")
    assert list_audio_files(tmp_path / "x") == [tmp_path / "x" / "1.flac", tmp_path / "x" / "y" / "2.WAV"]
    assert list_audio_files(tmp_path / "x", (".aiff",)) == [tmp_path / "x" / "3.aiff"]
    with pytest.raises(ManifestError, match="no audio files"):
        list_audio_files(tmp_path / "x" / "y", (".ogg",))
    with pytest.raises(ManifestError, match="not a folder"):
        list_audio_files(manifest)


def test_index_refuses_ids_shared_by_extensions_before_writing(tmp_path):
    from typer.testing import CliRunner

    from audiolm_lib.cli import build_app

    for name in ("good.wav", "good.ogg", "other.wav"):
        save_audio(tmp_path / "own" / name, np.zeros((1, 800), np.float32), 16000)
    (tmp_path / "own" / "good.mp3").write_bytes(b"\xff\xfb" + bytes(400))
    with pytest.raises(ManifestError, match=r"good\.mp3 and good\.ogg and good\.wav -> 'good'.*nothing was written"):
        manifest_from_folder(tmp_path / "own")
    result = CliRunner().invoke(build_app(), ["data", "index", str(tmp_path / "own")])
    assert result.exit_code == 2 and "-> 'good'" in result.output
    assert not (tmp_path / "own" / "manifest.jsonl").exists()
    (tmp_path / "own" / "manifest.jsonl").mkdir()
    (tmp_path / "own" / "good.ogg").unlink()
    (tmp_path / "own" / "good.mp3").unlink()
    with pytest.raises(ValueError, match="manifest .*manifest.jsonl is a directory"):
        manifest_from_folder(tmp_path / "own")
