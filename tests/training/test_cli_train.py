import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from audiolm_lib.cli import build_app
from audiolm_lib.datasets.manifest import write_manifest
from audiolm_lib.lm.stages import CoarseLM, SemanticLM
from audiolm_lib.training.metrics import read_metrics
from audiolm_lib.training.token_cache import TokenCache, build_token_cache

RATE, HOP = 16000, 320


class FrameTokenizer:
    """Semantic ids from each 20 ms frame's loudness (a stand-in with the tokenizer protocol)."""

    sample_rate, frame_rate, vocab_size = RATE, 50.0, 32

    def tokenize(self, wave):
        frames = wave[:, 0, : wave.shape[-1] // HOP * HOP].reshape(wave.shape[0], -1, HOP)
        return (frames.abs().mean(-1) * 400).long().clamp(0, self.vocab_size - 1)


class FrameCodec:
    """Codes from each frame's loudness per level (a stand-in with the codec protocol)."""

    sample_rate, frame_rate, hop_length, num_quantizers, codebook_size = RATE, 50.0, HOP, 6, 64

    def encode(self, wave):
        frames = math.ceil(wave.shape[-1] / HOP)
        padded = torch.nn.functional.pad(wave[:, 0], (0, frames * HOP - wave.shape[-1])).reshape(wave.shape[0], frames, HOP)
        level = (padded.abs().mean(-1) * 1000).long()
        return torch.stack([(level * (q + 1) + q) % self.codebook_size for q in range(self.num_quantizers)], 1)

    def decode(self, codes):  # pragma: no cover - not used by training
        return torch.zeros(codes.shape[0], 1, codes.shape[-1] * HOP)


@pytest.fixture
def token_cache_dir(tmp_path):
    """A real on-disk TokenCache of four 1.5 s tones (three train, one valid)."""
    audio = tmp_path / "data" / "audio"
    audio.mkdir(parents=True)
    entries = []
    t = np.arange(int(1.5 * RATE)) / RATE
    for index in range(4):
        wave = 0.5 * np.sin(2 * np.pi * 200 * (index + 1) * t) * np.linspace(0.1, 1.0, t.size)
        sf.write(audio / f"tone{index}.wav", wave.astype(np.float32), RATE)
        entries.append({"id": f"tone{index}", "audio": f"audio/tone{index}.wav", "split": "valid" if index == 3 else "train"})
    write_manifest(tmp_path / "data" / "manifest.jsonl", entries)
    build_token_cache(tmp_path / "data", tmp_path / "cache", FrameTokenizer(), FrameCodec(), progress=False)
    return tmp_path / "cache"


TINY = ["--set", "crop_seconds=0.5", "--set", "batch_size=2", "--set", "progress=false", "--set", "tensorboard=false",
        "--set", "model.transformer.dim=16", "--set", "model.transformer.depth=1", "--set", "model.transformer.heads=2",
        "--set", "model.transformer.max_seq_len=256", "--set", "warmup_steps=1", "--set", "log_every=1",
        "--set", "eval_every=2", "--set", "checkpoint_every=2", "--device", "cpu"]


def test_help_of_every_train_command():
    runner = CliRunner()
    result = runner.invoke(build_app(), ["train", "--help"])
    assert result.exit_code == 0
    for name in ("codec", "semantic", "coarse", "fine"):
        assert name in result.output
        sub = runner.invoke(build_app(), ["train", name, "--help"])
        assert sub.exit_code == 0, sub.output
        assert "--resume" in sub.output and "--set" in sub.output and "--steps" in sub.output


def test_train_coarse_then_resume_from_the_command_line(token_cache_dir, tmp_path):
    runner = CliRunner()
    out = tmp_path / "coarse"
    first = runner.invoke(build_app(), ["train", "coarse", str(token_cache_dir), str(out), "--steps", "3", "--stop-after", "2", *TINY])
    assert first.exit_code == 0, first.output
    assert [row["step"] for row in read_metrics(out) if row["split"] == "train"] == [1, 2]
    again = runner.invoke(build_app(), ["train", "coarse", str(token_cache_dir), str(out), "--steps", "3", *TINY])
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = runner.invoke(build_app(), ["train", "coarse", str(token_cache_dir), str(out), "--steps", "3", "--resume", *TINY])
    assert resumed.exit_code == 0, resumed.output
    rows = read_metrics(out)
    assert [row["step"] for row in rows if row["split"] == "train"] == [1, 2, 3]
    assert [row["step"] for row in rows if row["split"] == "valid"] == [2, 3]  # validation on the valid split
    model = CoarseLM.from_pretrained(out / "model")
    cache = TokenCache(token_cache_dir)
    assert (model.config.codebook_size, model.config.semantic_vocab_size) == (cache.codebook_size, cache.semantic_vocab_size)
    assert json.loads((out / "train_config.json").read_text())["steps"] == 3


def test_old_field_names_are_still_read_with_a_deprecation_warning(tmp_path):
    import pytest

    from audiolm_lib.serialization import CheckpointError, config_from_dict
    from audiolm_lib.training.config import StageTrainConfig, load_stage_config

    old = {"stage": "coarse", "total_steps": 7, "log_interval": 2, "eval_interval": 3, "sample_interval": 1000000,
           "checkpoint_interval": 4}
    with pytest.warns(DeprecationWarning, match="total_steps -> steps"):
        config = config_from_dict(StageTrainConfig, old)
    assert (config.steps, config.log_every, config.eval_every, config.checkpoint_every) == (7, 2, 3, 4)
    (tmp_path / "old.json").write_text(json.dumps(old))
    with pytest.warns(DeprecationWarning):
        from_file = load_stage_config(tmp_path / "old.json", ["log_interval=5"], sample_every=None)
    assert (from_file.steps, from_file.log_every) == (7, 5)
    assert StageTrainConfig(eval_every=None, sample_every=None, checkpoint_every=None).eval_every is None  # never
    with pytest.raises(CheckpointError, match="both 'total_steps' and its new name 'steps'"):
        config_from_dict(StageTrainConfig, {"total_steps": 1, "steps": 2})


def test_train_parallel_with_prompts_from_the_same_speaker(tmp_path):
    """``--set prompt_same_speaker`` trains on a cache whose manifest names speakers, and says why it cannot on one
    that names none."""
    audio = tmp_path / "data" / "audio"
    audio.mkdir(parents=True)
    t = np.arange(int(1.5 * RATE)) / RATE
    entries = []
    for index in range(5):
        wave = 0.5 * np.sin(2 * np.pi * 150 * (index + 1) * t) * np.linspace(0.1, 1.0, t.size)
        sf.write(audio / f"tone{index}.wav", wave.astype(np.float32), RATE)
        entries.append({"id": f"tone{index}", "audio": f"audio/tone{index}.wav", "speaker": f"voice{index % 2}",
                        "split": "valid" if index == 4 else "train"})
    write_manifest(tmp_path / "data" / "manifest.jsonl", entries)
    cache = build_token_cache(tmp_path / "data", tmp_path / "cache", FrameTokenizer(), FrameCodec(), progress=False)
    assert cache.speakers() == ["voice0", "voice1", "voice0", "voice1", "voice0"]
    runner = CliRunner()
    args = ["train", "parallel", str(tmp_path / "cache"), str(tmp_path / "run"), "--steps", "2", *TINY,
            "--set", "prompt_same_speaker=0.5", "--set", "prompt_elsewhere=0.2"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["prompt_same_speaker"] == 0.5
    too_much = runner.invoke(build_app(), args[:-4] + ["--set", "prompt_same_speaker=0.9", "--set",
                                                       "prompt_elsewhere=0.2"])
    assert too_much.exit_code == 2 and "at most 1" in too_much.output and "Traceback" not in too_much.output
    for entry in entries:
        del entry["speaker"]
    write_manifest(tmp_path / "nameless" / "manifest.jsonl", entries)
    (tmp_path / "nameless" / "audio").symlink_to(audio)
    build_token_cache(tmp_path / "nameless", tmp_path / "nameless_cache", FrameTokenizer(), FrameCodec(), progress=False)
    nameless = runner.invoke(build_app(), ["train", "parallel", str(tmp_path / "nameless_cache"), str(tmp_path / "r2"),
                                           "--steps", "1", *TINY, "--set", "prompt_same_speaker=0.5"])
    assert nameless.exit_code == 2 and "two or more usable items" in nameless.output
    assert "Traceback" not in nameless.output


def test_config_file_and_errors_from_the_command_line(token_cache_dir, tmp_path):
    runner = CliRunner()
    config = tmp_path / "semantic.yaml"
    config.write_text("crop_seconds: 0.5\nprogress: false\ntensorboard: false\nwarmup_steps: 1\n"
                      "model: {transformer: {dim: 16, depth: 1, heads: 2, max_seq_len: 128}}\n")
    ok = runner.invoke(build_app(), ["train", "semantic", str(token_cache_dir), str(tmp_path / "sem"), "--config",
                                     str(config), "--steps", "1", "--device", "cpu"])
    assert ok.exit_code == 0, ok.output
    assert isinstance(SemanticLM.from_pretrained(tmp_path / "sem" / "model"), SemanticLM)
    cases = [
        (["train", "fine", str(tmp_path / "missing"), str(tmp_path / "x")], "token cache directory not found"),
        (["train", "fine", str(token_cache_dir), str(tmp_path / "x"), "--set", "lr"], "not of the form key=value"),
        (["train", "fine", str(token_cache_dir), str(tmp_path / "x"), "--set", "speed=2"], "unknown field 'speed'"),
        (["train", "semantic", str(token_cache_dir), str(tmp_path / "x"), "--resume"], "no training checkpoint"),
        (["train", "codec", str(tmp_path / "nothing_here"), str(tmp_path / "x")], "audio source not found"),
    ]
    for args, message in cases:
        result = runner.invoke(build_app(), args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_train_codec_from_a_manifest(tmp_path):
    folder = tmp_path / "tones"
    folder.mkdir()
    t = np.arange(int(0.4 * RATE)) / RATE
    for index in range(2):
        sf.write(folder / f"t{index}.wav", (0.3 * np.sin(2 * np.pi * 300 * (index + 1) * t)).astype(np.float32), RATE)
    write_manifest(folder / "manifest.jsonl", [{"id": f"t{i}", "audio": f"t{i}.wav"} for i in range(2)])
    config = tmp_path / "codec.yaml"
    config.write_text(
        "arch: soundstream\n"
        "codec: {channels: 2, strides: [2, 4], latent_dim: 8, num_quantizers: 3, codebook_size: 16}\n"
        "discriminator: {wave_scales: 1, wave_channels: 2, wave_max_channels: 8, stft_ffts: [128], stft_channels: 2}\n"
        "batch_size: 2\nsegment_seconds: 0.05\nwarmup_steps: 1\ncheckpoint_every: 2\nlog_every: 1\neval_every: 2\n"
        "eval_segments: 1\nstft_fft_sizes: [256, 64]\nmel_fft_sizes: [256]\nema_warmup_steps: 1\n"
    )
    result = CliRunner().invoke(build_app(), ["train", "codec", str(folder), str(tmp_path / "codec"), "--config",
                                              str(config), "--steps", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "codec" / "codec" / "config.json").exists() or (tmp_path / "codec" / "model" / "config.json").exists()
    assert [row["step"] for row in read_metrics(tmp_path / "codec") if row["split"] == "train"] == [1]


def test_train_the_default_spectral_codec_with_set_overrides(tmp_path):
    folder = tmp_path / "tones"
    folder.mkdir()
    t = np.arange(int(0.4 * RATE)) / RATE
    sf.write(folder / "t.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE)
    tiny = ["spectral.dim=8", "spectral.encoder_depth=1", "spectral.decoder_depth=1", "spectral.upsampler_dim=8",
            "spectral.upsampler_depth=1", "spectral.latent_dim=8", "spectral.num_quantizers=2",
            "spectral.codebook_size=16", "batch_size=2", "segment_seconds=0.2", "eval_every=1", "eval_segments=1",
            "log_every=1"]
    arguments = ["train", "codec", str(folder), str(tmp_path / "codec"), "--steps", "2", "--device", "cpu"]
    for item in tiny:
        arguments += ["--set", item]
    result = CliRunner().invoke(build_app(), arguments)
    assert result.exit_code == 0, result.output
    from audiolm_lib.codecs.spectral import SpectralCodec
    from audiolm_lib.serialization import load_pretrained

    codec = load_pretrained(tmp_path / "codec" / "codec")
    assert isinstance(codec, SpectralCodec) and codec.num_quantizers == 2
    rows = read_metrics(tmp_path / "codec")
    assert [row["step"] for row in rows if row["split"] == "train"] == [1, 2]
    assert all("loss_magnitude" in row for row in rows if row["split"] == "train")
