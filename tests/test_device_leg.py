"""A training leg on a lent accelerator (audiolm_lib.training.device_leg, checkpoints/device/): the carry folder
round-trips the token cache exactly, the returned model comes back in parts under the tool's limits and is joined
byte for byte (a damaged or missing part is refused), the schedule is fitted to the minutes given, the device side
runs without the audio packages the machine lacks, and the slim tree travels under 64 MiB and is put back unchanged."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from audiolm_lib.audio import save_audio
from audiolm_lib.datasets.manifest import write_manifest
from audiolm_lib.training import device_leg
from audiolm_lib.training.token_cache import TokenCache, build_token_cache

ROOT = Path(__file__).resolve().parents[1]
TINY = {"window_seconds": 1.0, "transformer": {"dim": 16, "depth": 1, "heads": 2, "max_seq_len": 64, "dropout": 0.0}}


class FrameTokenizer:
    """16 kHz, 50 Hz; a frame's id is its quantised log-energy."""

    sample_rate, frame_rate, vocab_size = 16000, 50.0, 8

    def tokenize(self, wave: torch.Tensor) -> torch.Tensor:
        frames = wave[:, 0, : wave.shape[-1] // 320 * 320].reshape(wave.shape[0], -1, 320)
        energy = 10 * torch.log10(frames.pow(2).mean(-1) + 1e-8)
        return ((energy + 80) / 80 * 7).round().clamp(0, 7).long()


class FrameCodec:
    """16 kHz, hop 320, 2 levels of 16 codes: the frame's mean magnitude, then its residual."""

    sample_rate, hop_length, frame_rate, codebook_size, num_quantizers = 16000, 320, 50.0, 16, 2

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        count = -(-wave.shape[-1] // 320)
        padded = torch.nn.functional.pad(wave[:, 0], (0, count * 320 - wave.shape[-1]))
        frames = padded.reshape(wave.shape[0], count, 320)
        level = frames.abs().mean(-1) * 16
        first = level.floor().clamp(0, 15)
        second = ((level - first) * 16).floor().clamp(0, 15)
        return torch.stack([first, second], 1).long()


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    entries = []
    for k in range(8):
        t = np.arange(int((1.6 + 0.1 * k) * 16000)) / 16000
        tone = np.linspace(0.1, 0.9, t.size) * np.sin(2 * np.pi * (150 + 40 * k) * t)
        wave = tone + 0.02 * rng.standard_normal(t.size)
        save_audio(tmp_path / "data" / f"u{k}.wav", wave[None].astype(np.float32), 16000)
        entries.append({"id": f"u{k}", "audio": f"u{k}.wav", "duration": t.size / 16000, "sample_rate": 16000,
                        "split": "valid" if k >= 6 else "train", "speaker": f"s{k % 3}"})
    manifest = write_manifest(tmp_path / "data" / "manifest.jsonl", entries)
    build_token_cache(manifest, tmp_path / "cache", FrameTokenizer(), FrameCodec(), shard_size=3, progress=False)
    return tmp_path / "cache"


def _leg_fields(start_model: Path, steps: int = 40) -> dict:
    return {"stage": "parallel", "model": TINY, "crop_seconds": 1.0, "min_crop_seconds": 1.0, "batch_size": 2,
            "lr": 1e-3, "warmup_steps": 5, "steps": steps, "eval_every": 10, "eval_batches": 1, "log_every": 10,
            "checkpoint_every": 100, "progress": False, "tensorboard": False, "device": "cpu", "precision": "fp32",
            "prompt_elsewhere": 0.5, "init_from": str(start_model)}


def _start_model(cache_dir: Path, out: Path) -> Path:
    from audiolm_lib.training.config import StageTrainConfig
    from audiolm_lib.training.trainer import build_stage_model

    torch.manual_seed(0)
    config = StageTrainConfig(stage="parallel", model=TINY, progress=False, tensorboard=False)
    build_stage_model(config, TokenCache(cache_dir)).save_pretrained(out)
    return out


def test_the_packed_cache_unpacks_to_the_same_items(cache_dir, tmp_path):
    archive = device_leg.pack_cache(cache_dir, tmp_path / "carry" / device_leg.CACHE_ARCHIVE)
    unpacked = TokenCache(device_leg.unpack_cache(archive, tmp_path / "there"))
    original = TokenCache(cache_dir)
    assert len(unpacked) == len(original) == 8 and unpacked.ids() == original.ids()
    for k in range(len(original)):
        assert torch.equal(unpacked[k]["acoustic"], original[k]["acoustic"])
        assert torch.equal(unpacked[k]["semantic"], original[k]["semantic"])
    assert unpacked.indices("valid") == original.indices("valid") == [6, 7]


def test_an_incomplete_cache_is_not_packed_and_a_link_in_an_archive_is_refused(cache_dir, tmp_path):
    import tarfile

    header = json.loads((cache_dir / "header.json").read_text())
    (cache_dir / "header.json").write_text(json.dumps({**header, "complete": False}))
    with pytest.raises(ValueError, match="not a complete token cache"):
        device_leg.pack_cache(cache_dir, tmp_path / "a.tar.xz")
    bad = tmp_path / "bad.tar.xz"
    with tarfile.open(bad, "w:xz") as tar:
        link = tarfile.TarInfo("header.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(ValueError, match="not a regular file"):
        device_leg.unpack_cache(bad, tmp_path / "there")
    assert not (tmp_path / "there" / "header.json").exists()


def test_a_split_file_joins_byte_for_byte_and_a_bad_part_is_refused(tmp_path):
    payload = np.random.default_rng(1).integers(0, 256, 10_000, dtype=np.uint8).tobytes()
    (tmp_path / "model.safetensors").write_bytes(payload)
    record = device_leg.split_file(tmp_path / "model.safetensors", tmp_path / "out", part_bytes=3000)
    parts = json.loads(record.read_text())["parts"]
    assert len(parts) == 4 and all((tmp_path / "out" / p).stat().st_size <= 3000 for p in parts)
    joined = device_leg.join_parts(record, tmp_path / "back" / "model.safetensors")
    assert joined.read_bytes() == payload
    damaged = tmp_path / "out" / parts[1]
    damaged.write_bytes(b"\x00" + damaged.read_bytes()[1:])
    with pytest.raises(ValueError, match="SHA-256"):
        device_leg.join_parts(record, tmp_path / "again" / "model.safetensors")
    assert not list((tmp_path / "again").iterdir())  # nothing half-joined is left
    (tmp_path / "out" / parts[2]).unlink()
    with pytest.raises(FileNotFoundError, match="incomplete"):
        device_leg.join_parts(record, tmp_path / "again" / "model.safetensors")


def test_the_schedule_fits_the_minutes_and_never_exceeds_the_recipe():
    assert device_leg.fitted_steps(0.05, 8.0, 60.0, most=30000) == int((480 - 60) / 0.05)
    assert device_leg.fitted_steps(0.01, 8.0, 60.0, most=30000) == 30000
    assert device_leg.fitted_steps(5.0, 1.0, 60.0, most=30000) == 100  # the floor
    assert device_leg.fitted_steps(5.0, 1.0, 60.0, most=40) == 40  # never above the recipe's, floor included
    longer = [device_leg.fitted_steps(0.1, minutes, 30.0, most=10 ** 6) for minutes in (2, 4, 8)]
    assert longer == sorted(longer) and longer[0] < longer[-1]
    with pytest.raises(ValueError):
        device_leg.fitted_steps(0.0, 8.0, 60.0, most=10)
    with pytest.raises(ValueError, match="probe_steps"):
        device_leg.run_leg(Path("carry"), Path("out"), 1.0, Path("work"), probe_steps=10)


def test_a_step_is_timed_between_the_first_and_last_logged_rows(tmp_path):
    rows = [{"step": 10, "split": "train", "time": 100.0, "loss": 5}, {"step": 20, "split": "valid", "time": 100.5},
            {"step": 20, "split": "train", "time": 101.0, "loss": 5}, {"step": 60, "split": "train", "time": 105.0}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert device_leg.seconds_per_step(tmp_path) == pytest.approx(0.1)
    (tmp_path / "metrics.jsonl").write_text(json.dumps(rows[0]) + "\n")
    with pytest.raises(ValueError, match="two logged"):
        device_leg.seconds_per_step(tmp_path)


@pytest.mark.slow
def test_a_packed_leg_runs_without_the_audio_packages_and_its_model_imports_back(cache_dir, tmp_path):
    start = _start_model(cache_dir, tmp_path / "start")
    carry = tmp_path / "carry"
    size = device_leg.pack_leg(_leg_fields(start), cache_dir, carry)
    assert size == sum(p.stat().st_size for p in carry.rglob("*") if p.is_file())
    assert json.loads((carry / device_leg.LEG_CONFIG).read_text())["init_from"] == device_leg.START_MODEL
    with pytest.raises(FileExistsError):
        device_leg.pack_leg(_leg_fields(start), cache_dir, carry)
    # the device machine has no soundfile or soxr: the device side must not import them
    blocker = "import sys; sys.modules.update(soundfile=None, soxr=None); sys.argv[0] = 'leg.py'; "
    run = (f"{blocker}import runpy; sys.argv += ['--carry', {str(carry)!r}, '--minutes', '0.4', '--out', "
           f"{str(tmp_path / 'returned')!r}, '--work', {str(tmp_path / 'scratch')!r}, '--probe-steps', '20']; "
           f"runpy.run_path({str(ROOT / 'checkpoints' / 'device' / 'leg.py')!r}, run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    returned = sorted((tmp_path / "returned").iterdir())
    assert len(returned) <= device_leg.RETURN_FILES and all(p.stat().st_size <= 16 * 2 ** 20 for p in returned)
    summary = json.loads((tmp_path / "returned" / device_leg.SUMMARY).read_text())
    assert 1 <= summary["steps"] <= 40 and summary["recipe_steps"] == 40 and summary["seconds_per_step"] > 0
    assert summary["config"]["steps"] == summary["steps"] and 1 <= summary["steps_run"] <= summary["steps"]
    model_dir = device_leg.import_leg(tmp_path / "returned", tmp_path / "work" / "stage_parallel_tune4")
    from audiolm_lib.serialization import load_pretrained

    trained = load_pretrained(tmp_path / "scratch" / "leg" / "model").state_dict()
    imported, first = load_pretrained(model_dir).state_dict(), load_pretrained(start).state_dict()
    assert all(torch.equal(imported[k], trained[k]) for k in trained)
    assert any(not torch.equal(imported[k], first[k]) for k in first)  # the leg trained
    assert (tmp_path / "work" / "stage_parallel_tune4" / device_leg.SUMMARY).is_file()
    with pytest.raises(FileExistsError):
        device_leg.import_leg(tmp_path / "returned", tmp_path / "work" / "stage_parallel_tune4")


def test_make_checkpoints_packs_the_recipes_last_leg_as_tune_stage_would_run_it(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("make_checkpoints", ROOT / "checkpoints" / "make_checkpoints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    legs = [{"data": ["speech"], "steps": 30}, {"data": ["speech", "recorded"], "steps": 50, "batch_size": 32,
                                                 "prompt_elsewhere": 0.5, "model": {"prompt_dropout": 0.1}}]
    monkeypatch.setattr(module, "recipe", lambda kind: {"stages": {"parallel": {
        "stage": "parallel", "steps": 100, "lr": 1e-3, "model": {"window_seconds": 6.0}, "tune": legs}}})
    monkeypatch.setattr(module, "shipped_codec", lambda work: work / "codec")
    monkeypatch.setattr(module, "build_cache", lambda work, kind, codec, out, data_sets: out)
    packed = {}
    monkeypatch.setattr(device_leg, "pack_leg", lambda fields, cache, out: packed.update(
        fields=fields, cache=cache, out=out) or 1)
    work = tmp_path / "w"
    module.device_pack(work, "speech", "parallel", tmp_path / "carry")
    fields = packed["fields"]
    assert packed["cache"] == work / "speech" / "tokens_speech_recorded"
    assert fields["init_from"] == str(work / "speech" / "stage_parallel_tune" / "model")  # the previous leg's
    assert (fields["steps"], fields["batch_size"], fields["lr"], fields["prompt_elsewhere"]) == (50, 32, 1e-3, 0.5)
    assert fields["model"] == {"window_seconds": 6.0, "prompt_dropout": 0.1}


def test_the_device_recipe_is_the_shipped_one_plus_one_leg():
    shipped = json.loads((ROOT / "checkpoints" / "recipes" / "speech.json").read_text())
    device = json.loads((ROOT / "checkpoints" / "recipes" / "speech_device.json").read_text())
    assert device["stages"]["parallel"]["tune"][:-1] == shipped["stages"]["parallel"]["tune"]
    assert {k: v for k, v in device.items() if k not in ("stages", "device_note")} == {
        k: v for k, v in shipped.items() if k != "stages"}
    last = device["stages"]["parallel"]["tune"][-1]
    assert last["from_average"] is True and last["data"] == shipped["stages"]["parallel"]["tune"][-1]["data"]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout


def test_the_slim_tree_travels_small_and_is_put_back_unchanged(tmp_path):
    spec = importlib.util.spec_from_file_location("device_tree", ROOT / "checkpoints" / "device" / "tree.py")
    tree = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tree)
    repo = tmp_path / "repo"
    (repo / "checkpoints" / "speech").mkdir(parents=True)
    (repo / "bench" / "results").mkdir(parents=True)
    (repo / "checkpoints" / "speech" / "model.safetensors").write_bytes(b"w" * 200_000)
    (repo / "bench" / "results" / "r.json").write_bytes(b"r" * 50_000)
    (repo / "code.py").write_text("x = 1\n")
    _git(repo.parent, "init", "-q", "-b", "main", str(repo))
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "init")
    exclude_before = (repo / ".git" / "info" / "exclude").read_text()
    assert tree.travelling_bytes(repo) == 250_006
    (repo / "code.py").write_text("x = 2\n")
    with pytest.raises(tree.TreeError, match="uncommitted"):
        tree.slim(repo)
    _git(repo, "checkout", "--", "code.py")
    assert tree.slim(repo) == 6
    assert (repo / "checkpoints" / "speech" / "model.safetensors").stat().st_size == 200_000  # still on disk
    assert tree.travelling_bytes(repo, [Path("checkpoints/speech")]) == 200_006  # a carried path counts
    with pytest.raises(tree.TreeError, match="slim already"):
        tree.slim(repo)
    assert tree.restore(repo) == "main"
    assert _git(repo, "status", "--porcelain") == "" and _git(repo, "branch", "--list", "device-slim") == ""
    assert (repo / ".git" / "info" / "exclude").read_text() == exclude_before
    assert tree.travelling_bytes(repo) == 250_006
    with pytest.raises(tree.TreeError, match="not slim"):
        tree.restore(repo)
    (repo / ".git" / "info" / "exclude").unlink()  # a checkout without one: slim makes it, restore removes it
    tree.slim(repo)
    assert tree.travelling_bytes(repo) == 6
    tree.restore(repo)
    assert not (repo / ".git" / "info" / "exclude").exists() and _git(repo, "status", "--porcelain") == ""


def test_the_device_side_names_what_the_carry_lacks(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("device_leg_cli", ROOT / "checkpoints" / "device" / "leg.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    (tmp_path / "carry").mkdir()
    (tmp_path / "carry" / "leg.json").write_text("{}")
    assert cli.main(["--carry", str(tmp_path / "carry"), "--minutes", "1", "--out", str(tmp_path / "out")]) == 2
    message = capsys.readouterr().err
    assert "lacks cache.tar.xz, start_model/config.json: make it with make_checkpoints.py device-pack" in message
    assert not (tmp_path / "out").exists()
