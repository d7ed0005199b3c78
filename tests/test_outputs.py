"""audiolm_lib.outputs: output paths and formats are checked before any work, with errors naming the problem."""
import os
import subprocess
import sys

import pytest

from audiolm_lib.outputs import OutputPathError, audio_write_format, check_output_dir, check_output_file

AUDIO = (".wav", ".flac", ".ogg")


@pytest.mark.parametrize("name, message", [
    ("out", "no extension"), ("out.mp4", "extension '.mp4'"), ("out.WAV.txt", "extension '.txt'"),
])
def test_unknown_or_missing_extension(tmp_path, name, message):
    with pytest.raises(OutputPathError, match=message):
        check_output_file(tmp_path / name, AUDIO)
    with pytest.raises(OutputPathError, match=message):
        audio_write_format(tmp_path / name)
    assert audio_write_format(tmp_path / "x.FLAC") == ("FLAC", "PCM_16")


def test_directory_special_file_and_unwritable_places(tmp_path):
    (tmp_path / "d.wav").mkdir()
    with pytest.raises(OutputPathError, match="is a directory"):
        check_output_file(tmp_path / "d.wav", AUDIO)
    with pytest.raises(OutputPathError, match="not a regular file"):
        check_output_file("/dev/null", None)
    with pytest.raises(OutputPathError, match="does not accept new files"):
        check_output_file("/proc/out.wav", AUDIO)
    with pytest.raises(OutputPathError, match="cannot create folder"):
        check_output_file("/proc/new_folder/out.wav", AUDIO)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match="file is not a folder"):
        check_output_file(tmp_path / "file" / "out.wav", AUDIO)
    with pytest.raises(OutputPathError, match="exists and is not a folder"):
        check_output_dir(tmp_path / "file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match="does not accept new files"):
            check_output_file(folder / "out.wav", AUDIO)
    finally:
        folder.chmod(0o755)


def test_good_paths_pass_leave_nothing_and_clear_stale_partials(tmp_path):
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    stale = tmp_path / "sub" / f".~audiolm.{dead}.abc.out.wav.tmp"
    stale.parent.mkdir()
    stale.write_bytes(b"partial")
    other = tmp_path / "sub" / f".~audiolm.{dead}.abc.other.wav.tmp"
    other.write_bytes(b"partial")
    users = tmp_path / "sub" / f".out.wav.{dead}-abc.tmp"  # the old naming: could be a user's file, kept
    users.write_bytes(b"mine")
    assert check_output_file(tmp_path / "sub" / "out.wav", AUDIO) == tmp_path / "sub" / "out.wav"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == sorted([other.name, users.name])
    assert check_output_dir(tmp_path / "new" / "folder").is_dir()
    assert list((tmp_path / "new" / "folder").iterdir()) == []
