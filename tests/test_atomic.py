"""audiolm_lib.atomic: torch-free atomic writes shared by serialization and the dataset builders."""
import os
import subprocess
import sys
from pathlib import Path

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


# ------------------------------------------------------------------------------ write trials: 0 torn or mixed files
# Each writer's WAV is a constant value with a length of its own, so a reader can tell a whole file of one
# writer from a cut, mixed or padded one.
RATE = 8000


def _content(k: int) -> "np.ndarray":
    import numpy as np

    return np.full(800 + 97 * k, (k % 50 + 1) / 64.0, dtype=np.float32)  # exact in 16-bit PCM


def _classify(path) -> int | None:
    """The writer ``k`` whose whole file ``path`` holds, or None for a torn / mixed / unreadable file."""
    import numpy as np
    import soundfile as sf

    try:
        data, _ = sf.read(str(path), dtype="float32")
    except Exception:
        return None
    if data.ndim != 1 or data.size == 0:
        return None
    k = (data.size - 800) // 97
    if k < 0 or data.size != 800 + 97 * k or not np.array_equal(data, _content(k)):
        return None
    return k


def _writer(target, ks):
    from audiolm_lib.audio import save_audio

    for k in ks:
        save_audio(target, _content(k), RATE)
    os._exit(0)


def test_100_concurrent_writes_leave_no_torn_or_mixed_file(tmp_path):
    import multiprocessing

    target = tmp_path / "out.wav"
    from audiolm_lib.audio import save_audio

    save_audio(target, _content(0), RATE)
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(target, range(1 + w, 101, 4))) for w in range(4)]
    for process in writers:
        process.start()
    reads, bad = 0, 0
    while any(p.is_alive() for p in writers) or reads < 20:
        bad += _classify(target) is None
        reads += 1
    for process in writers:
        process.join()
        assert process.exitcode == 0
    assert bad == 0 and reads >= 20
    assert _classify(target) in range(1, 101)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temp file left behind


def test_100_disk_full_writes_keep_the_old_file(tmp_path, monkeypatch):
    import errno
    import random

    import soundfile as sf

    from audiolm_lib.audio import save_audio

    target = tmp_path / "out.wav"
    save_audio(target, _content(0), RATE)
    real_write = sf.SoundFile.write
    rng = random.Random(0)

    def full_disk(self, data):  # writes part of the frames, then the disk is full
        cut = rng.randrange(0, len(data))
        real_write(self, data[:cut])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sf.SoundFile, "write", full_disk)
    failures = 0
    for k in range(1, 101):
        with pytest.raises(OSError, match="No space left"):
            save_audio(target, _content(k), RATE)
        failures += _classify(target) != 0
    assert failures == 0
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def _run_torch_free(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter that has ``_content`` / ``_classify`` / ``write_wav`` (the atomic WAV
    writer of the dataset builders, torch-free: the process starts and forks fast) and return its printed words."""
    prelude = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
               "from test_atomic import _content, _classify, RATE\n"
               "from audiolm_lib.datasets.manifest import write_wav\n")
    result = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "torch" not in result.stderr
    return result.stdout.split()


def test_file_size_limit_in_a_subprocess_keeps_the_old_file(tmp_path):
    """The kernel refuses the write past RLIMIT_FSIZE (EFBIG), 100 times: the old file stays whole."""
    words = _run_torch_free(f"""
import resource, signal
target = {str(tmp_path / 'out.wav')!r}
write_wav(target, _content(0), RATE)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))
errors = bad = 0
for k in range(1, 101):
    try:
        write_wav(target, _content(k + 20), RATE)
    except Exception:
        errors += 1
    bad += _classify(target) != 0
print(errors, bad, 'torch' in sys.modules)
""")
    assert words == ["100", "0", "False"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_100_kill_9_writes_leave_the_old_or_the_new_file(tmp_path):
    words = _run_torch_free(f"""
import os, random, signal, time
from audiolm_lib.atomic import remove_stale_temps
target = {str(tmp_path / 'out.wav')!r}
write_wav(target, _content(0), RATE)
rng = random.Random(0)
bad = 0
for trial in range(100):
    pid = os.fork()
    if pid == 0:  # child: keep rewriting until killed
        try:
            for k in range(1, 10**6):
                write_wav(target, _content(k % 100 + 1), RATE)
        finally:
            os._exit(0)
    time.sleep(rng.uniform(0.0, 0.01))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    bad += _classify(target) is None
removed = remove_stale_temps(os.path.dirname(target))  # partials of the killed writers: their pids are gone
print(bad, len(removed) > 0)
""")
    assert words[0] == "0"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]
