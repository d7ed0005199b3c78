"""audiolm_lib.atomic: torch-free atomic writes shared by serialization and the dataset builders."""
import subprocess
import sys

import pytest

from audiolm_lib.atomic import atomic_write, atomic_write_text


def test_atomic_write_text_round_trip_creates_folders(tmp_path):
    target = tmp_path / "a" / "b" / "note.txt"
    assert atomic_write_text(target, "héllo\n") == target
    assert target.read_text(encoding="utf-8") == "héllo\n"
    assert [p.name for p in target.parent.iterdir()] == ["note.txt"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "data.bin"
    atomic_write_text(target, "old")

    def broken(tmp):
        with open(tmp, "w") as handle:
            handle.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_atomic_writes_and_manifests_do_not_import_torch():
    code = ("import sys, audiolm_lib.atomic, audiolm_lib.datasets.manifest; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_serialization_and_manifest_share_the_writer():
    from audiolm_lib import serialization
    from audiolm_lib.datasets import manifest

    assert serialization.atomic_write_text is manifest.atomic_write_text is atomic_write_text
    assert serialization.atomic_write is atomic_write
