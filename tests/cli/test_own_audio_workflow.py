"""The README's "train on your own audio" command chain, end to end at a tiny size."""
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from audiolm_lib.cli import build_app
from audiolm_lib.pipeline import AudioLM

pytestmark = pytest.mark.slow

TINY_TRANSFORMER = ["model.transformer.dim=32", "model.transformer.depth=1", "model.transformer.heads=2"]


def invoke(runner, app, args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"audiolm {' '.join(map(str, args))}\n{result.output}"
    return result


def test_folder_to_continuation(tmp_path):
    rng = np.random.default_rng(0)
    audio = tmp_path / "my_audio"
    audio.mkdir()
    t = np.arange(32000) / 16000
    for i in range(6):  # 2 s tones with a little noise, different pitches
        wave = 0.3 * np.sin(2 * np.pi * (220 + 40 * i) * t) + 0.01 * rng.standard_normal(t.size)
        sf.write(audio / f"clip{i}.wav", wave.astype(np.float32), 16000)
    runner, app = CliRunner(), build_app()
    runs = tmp_path / "runs"
    invoke(runner, app, ["data", "index", audio, "--valid-fraction", "0.3"])
    codec_set = ["codec.channels=4", "codec.latent_dim=16", "codec.num_quantizers=4", "codec.codebook_size=32",
                 "batch_size=2", "segment_seconds=0.2", "checkpoint_every=2", "eval_every=2", "log_every=1",
                 "stft_fft_sizes=[256,128]", "mel_fft_sizes=[256,128]", "discriminator.wave_scales=1",
                 "discriminator.wave_channels=4", "discriminator.wave_max_channels=8",
                 "discriminator.stft_ffts=[128]", "discriminator.stft_channels=4"]
    invoke(runner, app, ["train", "codec", audio, runs / "codec", "--steps", 2, "--device", "cpu"]
           + [x for s in codec_set for x in ("--set", s)])
    invoke(runner, app, ["fit-kmeans", audio, "--features", "mfcc", "--clusters", 8, "--out", runs / "tokenizer"])
    invoke(runner, app, ["tokenize", audio, runs / "cache", "--tokenizer", runs / "tokenizer",
                         "--codec", runs / "codec" / "codec"])
    stage_set = TINY_TRANSFORMER + ["batch_size=2", "crop_seconds=1.0", "warmup_steps=1", "checkpoint_every=2",
                                    "eval_every=2", "sample_every=100", "log_every=1", "progress=false",
                                    "tensorboard=false"]
    for stage, extra in (("semantic", []), ("coarse", ["model.num_coarse_quantizers=2"]),
                         ("fine", ["model.num_coarse_quantizers=2", "model.num_fine_quantizers=2"])):
        invoke(runner, app, ["train", stage, runs / "cache", runs / stage, "--steps", 2, "--device", "cpu"]
               + [x for s in stage_set + extra for x in ("--set", s)])
        rows = [json.loads(line) for line in (runs / stage / "metrics.jsonl").read_text().splitlines()]
        assert all(np.isfinite(r["loss"]) for r in rows if "loss" in r)
    invoke(runner, app, ["assemble", runs / "audiolm", "--tokenizer", runs / "tokenizer",
                         "--codec", runs / "codec", "--semantic", runs / "semantic",
                         "--coarse", runs / "coarse", "--fine", runs / "fine"])
    out = tmp_path / "out.wav"
    invoke(runner, app, ["continue", runs / "audiolm", audio / "clip0.wav", "-o", out, "--seconds", 0.5])
    wave, rate = sf.read(out)
    assert rate == 16000 and wave.shape[0] == 25 * 320  # 0.5 s at 50 Hz frames of 320 samples
    model = AudioLM.from_pretrained(runs / "audiolm")
    assert model.num_coarse == 2 and model.num_fine == 2 and model.semantic_tokenizer.vocab_size == 8
    assert torch.isfinite(torch.as_tensor(wave)).all()


def test_assemble_refuses_parts_of_different_token_spaces(tmp_path):
    from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
    from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig, SemanticLM, SemanticLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer

    shape = TransformerConfig(dim=16, depth=1, heads=2)
    SemanticTokenizer.mfcc(torch.randn(8, 39)).save_pretrained(tmp_path / "tok")
    SoundStream(SoundStreamConfig(channels=4, latent_dim=8, num_quantizers=4, codebook_size=32)).save_pretrained(tmp_path / "codec")
    SemanticLM(SemanticLMConfig(vocab_size=9, transformer=shape)).save_pretrained(tmp_path / "sem")  # 9 != 8
    CoarseLM(CoarseLMConfig(semantic_vocab_size=8, codebook_size=32, num_coarse_quantizers=2,
                            transformer=shape)).save_pretrained(tmp_path / "coarse")
    FineLM(FineLMConfig(codebook_size=32, num_coarse_quantizers=2, num_fine_quantizers=2,
                        transformer=shape)).save_pretrained(tmp_path / "fine")
    result = CliRunner().invoke(build_app(), ["assemble", str(tmp_path / "lm"), "--tokenizer", str(tmp_path / "tok"),
                                              "--codec", str(tmp_path / "codec"), "--semantic", str(tmp_path / "sem"),
                                              "--coarse", str(tmp_path / "coarse"), "--fine", str(tmp_path / "fine")])
    assert result.exit_code == 2
    assert "semantic vocabulary" in result.output and "Traceback" not in result.output
