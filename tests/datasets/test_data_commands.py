"""The `audiolm data` and `audiolm tokenize` commands, through typer's CliRunner."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from audiolm_lib.audio import load_audio, save_audio
from audiolm_lib.cli import build_app
from audiolm_lib.datasets.manifest import write_manifest
from audiolm_lib.training.token_cache import TokenCache

runner = CliRunner()


def test_data_piano_command_builds_a_tiny_set(tmp_path):
    out = tmp_path / "piano"
    result = runner.invoke(build_app(), ["data", "piano", str(out), "--minutes", "0.05", "--clip-seconds", "1",
                                         "--max-seconds-per-piece", "3", "--valid-fraction", "0.1", "--max-score-mb", "0.1", "--workers", "1"])
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    seconds: dict[str, float] = {}
    for entry in entries:
        seconds[entry["piece"]] = seconds.get(entry["piece"], 0.0) + entry["duration"]
    # it stops with the piece that reaches 0.05 min = 3 s
    assert sum(list(seconds.values())[:-1]) < 3.0 <= sum(seconds.values())
    assert all(sf.info(str(out / e["audio"])).samplerate == 16000 for e in entries)
    assert f"{len(entries)} files" in result.output and f"{len(seconds)} pieces" in result.output


@pytest.mark.requires(programs=["espeak-ng"])
def test_data_piano_variants_and_speech_options(tmp_path):
    out = tmp_path / "piano"
    result = runner.invoke(build_app(), ["data", "piano", str(out), "--minutes", "0.05", "--clip-seconds", "1",
                                         "--max-seconds-per-piece", "1", "--max-score-mb", "0.05", "--workers", "1",
                                         "--variants", "2", "--soundfonts", "TimGM6mb", "--transpose=-3,3",
                                         "--tempo", "0.9,1.1"])
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    renderings = {e["rendering"] for e in entries}
    assert len(renderings) == 2 * len({e["piece"] for e in entries}) and any("@" in r for r in renderings)
    result = runner.invoke(build_app(), ["data", "piano", str(tmp_path / "p2"), "--soundfonts", "sf_GMbank,TimGM6mb",
                                         "--variants", "2"])
    assert result.exit_code == 2 and "held out for evaluation" in result.output
    valid_only = tmp_path / "valid_only"
    result = runner.invoke(build_app(), ["data", "piano", str(valid_only), "--minutes", "0.05", "--clip-seconds", "1",
                                         "--max-seconds-per-piece", "1", "--max-score-mb", "0.05", "--workers", "1",
                                         "--valid-only"])
    assert result.exit_code == 0, result.output
    splits = {json.loads(line)["split"] for line in (valid_only / "manifest.jsonl").read_text().splitlines()}
    assert splits == {"valid"}
    result = runner.invoke(build_app(), ["data", "piano", str(tmp_path / "p3"), "--valid-only", "--include-test"])
    assert result.exit_code == 2 and "--valid-only" in result.output

    voices = runner.invoke(build_app(), ["data", "voices"])
    assert voices.exit_code == 0 and "speaker identities (4 held out for evaluation)" in voices.output
    out = tmp_path / "speech"
    result = runner.invoke(build_app(), ["data", "speech", str(out), "--speakers", "espeak_us_m3,espeak_en_f2",
                                         "--max-utterances-per-speaker", "1", "--workers", "1"])
    assert result.exit_code == 0 and "2 files" in result.output and "2 speaker identities" in result.output, result.output
    result = runner.invoke(build_app(), ["data", "speech", str(out), "--speakers", "espeak_caribbean_f3"])
    assert result.exit_code == 2 and "held out" in result.output


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


@pytest.mark.slow
def test_tokenize_command_with_a_tiny_codec_and_fitted_mfcc_tokenizer(tmp_path):
    soundstream = pytest.importorskip("audiolm_lib.codecs.soundstream")
    torch.manual_seed(0)
    codec = soundstream.SoundStream(soundstream.SoundStreamConfig(channels=4, latent_dim=16, num_quantizers=2, codebook_size=16))
    codec.save_pretrained(tmp_path / "codec")
    entries = []
    for k in range(4):
        t = np.arange(8000) / 16000
        save_audio(tmp_path / f"data/audio/{k}.wav", (0.3 * np.sin(2 * np.pi * (150 + 100 * k) * t))[None].astype(np.float32), 16000)
        entries.append({"id": f"u{k}", "audio": f"audio/{k}.wav", "split": "valid" if k == 3 else "train"})
    (tmp_path / "data/audio/bad.wav").write_bytes(b"not audio")
    entries.append({"id": "bad", "audio": "audio/bad.wav", "split": "train"})
    write_manifest(tmp_path / "data/manifest.jsonl", entries)

    args = ["tokenize", str(tmp_path / "data"), str(tmp_path / "cache"), "--tokenizer", "mfcc", "--clusters", "4",
            "--codec", str(tmp_path / "codec"), "--shard-size", "2"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    cache = TokenCache(tmp_path / "cache")
    assert [cache[k]["id"] for k in range(len(cache))] == ["u0", "u1", "u2", "u3"]
    assert [e["id"] for e in cache.errors] == ["bad"]
    assert (cache.num_quantizers, cache.codebook_size, cache.semantic_vocab_size) == (2, 16, 4)
    assert cache[0]["acoustic"].shape == (2, 8000 // codec.hop_length)
    expected = codec.encode(load_audio(tmp_path / "data/audio/0.wav")[None])[0]
    assert torch.equal(cache[0]["acoustic"], expected)
    # running it again reuses the fitted tokenizer and every shard
    again = runner.invoke(build_app(), args)
    assert again.exit_code == 0 and "using the mfcc tokenizer fitted earlier" in again.output
