"""The `audiolm data` and `audiolm tokenize` commands, through typer's CliRunner."""
from __future__ import annotations

import json

import soundfile as sf
from typer.testing import CliRunner

from audiolm_lib.cli import build_app

runner = CliRunner()


def test_data_piano_command_builds_a_tiny_set(tmp_path):
    out = tmp_path / "piano"
    result = runner.invoke(build_app(), ["data", "piano", str(out), "--minutes", "0.05", "--clip-seconds", "1",
                                         "--max-seconds-per-piece", "3", "--valid-fraction", "0.1", "--max-score-mb", "0.1"])
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    seconds: dict[str, float] = {}
    for entry in entries:
        seconds[entry["piece"]] = seconds.get(entry["piece"], 0.0) + entry["duration"]
    # it stops with the piece that reaches 0.05 min = 3 s
    assert sum(list(seconds.values())[:-1]) < 3.0 <= sum(seconds.values())
    assert all(sf.info(str(out / e["audio"])).samplerate == 16000 for e in entries)
    assert f"{len(entries)} files" in result.output and f"{len(seconds)} pieces" in result.output


def test_help_and_errors(tmp_path):
    app = build_app()
    for command in (["data", "--help"], ["data", "piano", "--help"], ["data", "speech", "--help"], ["tokenize", "--help"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0 and "Usage" in result.output, command
    result = runner.invoke(app, ["data", "piano", str(tmp_path / "x"), "--minutes", "0"])
    assert result.exit_code == 2 and "minutes must be positive" in result.output
    result = runner.invoke(app, ["data", "speech", str(tmp_path / "y"), "--speakers", "nobody"])
    assert result.exit_code == 2 and "unknown speaker 'nobody'" in result.output
    result = runner.invoke(app, ["tokenize", str(tmp_path / "m.jsonl"), str(tmp_path / "cache"),
                                 "--tokenizer", "mfcc", "--codec", str(tmp_path / "no_codec")])
    assert result.exit_code == 2 and "codec checkpoint folder not found" in result.output
