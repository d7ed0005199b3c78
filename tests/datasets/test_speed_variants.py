"""Speed-perturbed copies of training voices: pitch and length move by the factor, only the train split is copied,
each copy is a new identity, resume keeps files, bad factors are clear errors."""
import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from audiolm_lib.datasets.manifest import read_manifest, write_manifest
from audiolm_lib.datasets.speed_variants import build_speed_variants, parse_factors, speed_perturb

RATE = 16000


def _dataset(folder, tone_hz=200.0):
    (folder / "audio").mkdir(parents=True)
    t = np.arange(RATE) / RATE
    entries = []
    for index, (split, speaker) in enumerate([("train", "a"), ("train", "b"), ("valid", "a"), ("valid", "z")]):
        sf.write(folder / "audio" / f"c{index}.wav", (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32), RATE)
        entries.append({"id": f"c{index}", "audio": f"audio/c{index}.wav", "duration": 1.0, "sample_rate": RATE,
                        "split": split, "speaker": speaker, "identity": speaker})
    write_manifest(folder / "manifest.jsonl", entries)
    return folder


def _pitch(wave):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.fft.rfftfreq(len(wave), 1 / RATE)[spectrum.argmax()]


@pytest.mark.parametrize("factor", [0.8, 0.9, 1.15])
def test_speed_perturbation_moves_pitch_and_length_by_the_factor(factor):
    t = np.arange(RATE) / RATE
    out = speed_perturb(0.3 * np.sin(2 * np.pi * 220.0 * t), factor, RATE)
    assert abs(len(out) - RATE / factor) <= 2
    assert abs(_pitch(out) - 220.0 * factor) < 3.0


def test_only_the_train_split_is_copied_as_new_identities(tmp_path):
    source = _dataset(tmp_path / "src")
    manifest = build_speed_variants(source, tmp_path / "out", [0.9, 1.15], progress=False)
    entries = read_manifest(manifest)
    assert len(entries) == 4 and {e["split"] for e in entries} == {"train"}
    assert {e["identity"] for e in entries} == {"a@x0.9", "a@x1.15", "b@x0.9", "b@x1.15"}
    assert {e["speed_of"] for e in entries} == {"c0", "c1"}  # never the validation clips c2 / c3
    fast = next(e for e in entries if e["id"] == "c0@x1.15")
    assert fast["duration"] == pytest.approx(1 / 1.15, abs=1e-3)
    wave, rate = sf.read(fast["audio"])
    assert rate == RATE and abs(_pitch(wave) - 230.0) < 4.0


def test_resume_keeps_written_files_and_copies_of_copies_are_refused(tmp_path):
    source = _dataset(tmp_path / "src")
    out = tmp_path / "out"
    build_speed_variants(source, out, [0.9], progress=False)
    marker = out / "audio" / "c0@x0.9.wav"
    before = marker.stat().st_mtime_ns
    build_speed_variants(source, out, [0.9], progress=False)
    assert marker.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="already holds speed-perturbed"):
        build_speed_variants(out, tmp_path / "again", [1.1], progress=False)


@pytest.mark.parametrize("text", ["", "1.0", "0.2", "nan", "3"])
def test_bad_factors_are_refused(text):
    with pytest.raises(ValueError, match="speed factor|at least one"):
        parse_factors(text)


def test_cli_builds_the_copies_and_reports_bad_factors_in_one_line(tmp_path):
    from audiolm_lib.cli import build_app

    source = _dataset(tmp_path / "src")
    runner = CliRunner()
    result = runner.invoke(build_app(), ["data", "speed", str(tmp_path / "out"), "--source", str(source),
                                         "--factors", "0.9,1.1"])
    assert result.exit_code == 0, result.output
    assert "4 files" in result.output
    lines = (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()
    assert {json.loads(line)["speed_factor"] for line in lines} == {0.9, 1.1}
    bad = runner.invoke(build_app(), ["data", "speed", str(tmp_path / "out2"), "--source", str(source),
                                      "--factors", "1.0"])
    assert bad.exit_code == 2 and "speed factor" in bad.output and "Traceback" not in bad.output


def test_cli_split_valid_copies_only_validation_items_and_refuses_other_splits(tmp_path):
    from audiolm_lib.cli import build_app

    source = _dataset(tmp_path / "src")
    runner = CliRunner()
    result = runner.invoke(build_app(), ["data", "speed", str(tmp_path / "out"), "--source", str(source),
                                         "--factors", "0.7", "--split", "valid"])
    assert result.exit_code == 0, result.output
    entries = read_manifest(tmp_path / "out")
    assert {e["speed_of"] for e in entries} == {"c2", "c3"} and {e["split"] for e in entries} == {"valid"}
    bad = runner.invoke(build_app(), ["data", "speed", str(tmp_path / "out2"), "--source", str(source),
                                      "--split", "test"])
    assert bad.exit_code == 2 and "--split" in bad.output
