"""``audiolm continue``, ``audiolm info`` and ``audiolm demo`` through the real typer app, on a tiny random model."""
import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from audiolm_lib.audio import save_audio
from audiolm_lib.cli import build_app
from audiolm_lib.pipeline import AudioLM
from tiny_pipeline import tiny_model_dir, tiny_shipped_audiolm

RATE = 16000
runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory.mktemp("cli_model"), num_fine_quantizers=1, layout="flat")


@pytest.fixture
def prompt(tmp_path):
    t = torch.arange(int(0.8 * 22050)) / 22050
    stereo = torch.stack([0.3 * torch.sin(2 * math.pi * 330 * t), 0.3 * torch.sin(2 * math.pi * 440 * t)])
    return save_audio(tmp_path / "prompt.wav", stereo, 22050)  # another rate and two channels


def invoke(*args):
    return runner.invoke(build_app(), [str(a) for a in args])


def test_continue_writes_the_continuation(model_dir, prompt, tmp_path):
    out = tmp_path / "out.wav"
    result = invoke("continue", model_dir, prompt, "--out", out, "--seconds", 0.5, "--seed", 1)
    assert result.exit_code == 0, result.output
    wave, rate = sf.read(out)
    assert rate == RATE and wave.shape == (25 * 320,)
    assert "wrote" in result.output and str(out) in result.output
    with_prompt = tmp_path / "both.wav"
    result = invoke("continue", model_dir, prompt, "--out", with_prompt, "--seconds", 0.5, "--seed", 1, "--with-prompt")
    assert result.exit_code == 0, result.output
    both, _ = sf.read(with_prompt)
    assert len(both) == (40 + 25) * 320  # 0.8 s prompt = 40 frames
    assert abs(both[-len(wave):] - wave).max() < 2 / 2**15  # same seed: the same continuation after the prompt


def test_continue_greedy_is_deterministic(model_dir, prompt, tmp_path):
    outs = [tmp_path / f"g{i}.wav" for i in range(2)]
    for out, seed in zip(outs, (1, 2)):
        assert invoke("continue", model_dir, prompt, "-o", out, "-s", 0.3, "--temperature", 0, "--seed", seed).exit_code == 0
    assert (sf.read(outs[0])[0] == sf.read(outs[1])[0]).all()  # temperature 0: the seed does not matter


def test_continue_errors_are_one_line(model_dir, prompt, tmp_path):
    result = invoke("continue", tmp_path / "nope", prompt)
    assert result.exit_code == 2 and "model folder not found" in result.output
    result = invoke("continue", model_dir, tmp_path / "missing.wav")
    assert result.exit_code == 2 and "error:" in result.output
    result = invoke("continue", model_dir, prompt, "--seconds", -1)
    assert result.exit_code == 2 and "--seconds must be a positive, finite number" in result.output
    (tmp_path / "broken").mkdir()
    result = invoke("continue", tmp_path / "broken", prompt)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_info_describes_the_model(model_dir):
    result = invoke("info", model_dir, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["semantic_vocab_size"] == 16 and info["codebook_size"] == 32
    assert (info["codec_levels"], info["coarse_levels"], info["fine_levels"]) == (3, 2, 1)
    model = AudioLM.from_pretrained(model_dir)
    assert info["components"]["coarse_lm"]["parameters"] == sum(p.numel() for p in model.coarse_lm.parameters())
    assert info["components"]["codec"]["bytes_on_disk"] > 0
    text = invoke("info", model_dir)
    assert text.exit_code == 0 and "RVQ levels" in text.output and "coarse_lm" in text.output
    assert "coarse levels 1-2" in text.output and "fine levels 3-3" in text.output


def test_info_describes_a_parallel_generator(tmp_path):
    model_dir = tiny_shipped_audiolm(levels=4).save_pretrained(tmp_path / "parallel")
    info = json.loads(invoke("info", model_dir, "--json").output)
    assert info["acoustic_generator"] == "ParallelAcousticLM" and info["acoustic_levels"] == 4
    assert "coarse_levels" not in info and "fine_levels" not in info
    text = invoke("info", model_dir)
    assert text.exit_code == 0, text.output
    assert "parallel masked generator: all 4 levels" in text.output and "coarse" not in text.output
    assert "SpectralCodec" in text.output
    assert info["pipeline_decoding"] == {"voice_match": None, "prompt_band": None, "envelope_match": None,
                                         "postfilter": None, "prompt_adaptation": None}
    assert "pipeline's own steps: none" in text.output


def test_info_names_the_pipelines_own_steps(tmp_path):
    model = tiny_shipped_audiolm(levels=4)
    model.config.postfilter_strength, model.config.postfilter_threshold = 1.0, 0.3
    model.config.voice_match, model.config.voice_match_method = True, "statistics"
    model.config.envelope_match_strength = 0.5
    model_dir = model.save_pretrained(tmp_path / "steps")
    info = json.loads(invoke("info", model_dir, "--json").output)["pipeline_decoding"]
    assert info["postfilter"] == {"strength": 1.0, "threshold": 0.3}
    assert info["voice_match"] == {"method": "statistics", "strength": 1.0} and info["prompt_band"] is None
    assert info["envelope_match"] == {"strength": 0.5, "neighbours": 4, "smoothing": 9, "max_db": 9.0}
    text = invoke("info", model_dir).output
    assert "postfilter (strength 1, threshold 0.3)" in text and "voice match (method statistics" in text
    assert "envelope match (strength 0.5, neighbours 4, smoothing 9, max_db 9)" in text


def test_prompt_prior_option_reaches_the_parallel_generator(model_dir, prompt, tmp_path):
    parallel_dir = tiny_shipped_audiolm(levels=4).save_pretrained(tmp_path / "parallel")
    outs = {}
    for prior in ("0", "0", "20"):
        out = tmp_path / f"prior{prior}_{len(outs)}.wav"
        result = invoke("continue", parallel_dir, prompt, "-o", out, "-s", 0.6, "--seed", 3, "--prompt-prior", prior)
        assert result.exit_code == 0, result.output
        outs[len(outs)] = sf.read(out)[0]
    assert (outs[0] == outs[1]).all() and not (outs[0] == outs[2]).all()  # the option changes the sampling
    result = invoke("continue", model_dir, prompt, "-o", tmp_path / "seq.wav", "--prompt-prior", 1)
    assert result.exit_code == 2 and "--prompt-prior needs a parallel acoustic generator" in result.output
    result = invoke("continue", parallel_dir, prompt, "-o", tmp_path / "neg.wav", "--prompt-prior", -1)
    assert result.exit_code == 2 and "--prompt-prior" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("option, off, on", [("--semantic-guidance", "1", "4"), ("--semantic-prompt-prior", "0", "5")])
def test_semantic_decoding_options_reach_the_semantic_stage(option, off, on, prompt, tmp_path):
    model_dir = tiny_shipped_audiolm(levels=4).save_pretrained(tmp_path / "parallel")
    outs = []
    for value in (off, off, on):
        out = tmp_path / f"{option.strip('-')}{value}_{len(outs)}.wav"
        result = invoke("continue", model_dir, prompt, "-o", out, "-s", 0.6, "--seed", 3, option, value)
        assert result.exit_code == 0, result.output
        outs.append(sf.read(out)[0])
    assert (outs[0] == outs[1]).all() and not (outs[0] == outs[2]).all()  # the option changes the sampling
    result = invoke("continue", model_dir, prompt, "-o", tmp_path / "neg.wav", option, -1)
    assert result.exit_code == 2 and option in result.output and "Traceback" not in result.output


def test_voice_match_option_reaches_the_pipeline(prompt, tmp_path):
    model_dir = tiny_shipped_audiolm(levels=4).save_pretrained(tmp_path / "parallel")
    outs = {}
    for value in ("off", "on", "frames", "statistics"):
        out = tmp_path / f"vm_{value}.wav"
        result = invoke("continue", model_dir, prompt, "-o", out, "-s", 0.6, "--seed", 3, "--voice-match", value)
        assert result.exit_code == 0, result.output
        outs[value] = sf.read(out)[0]
    plain = invoke("continue", model_dir, prompt, "-o", tmp_path / "plain.wav", "-s", 0.6, "--seed", 3)
    assert plain.exit_code == 0 and (sf.read(tmp_path / "plain.wav")[0] == outs["off"]).all()  # the model's: off
    assert outs["on"].shape == outs["off"].shape and not (outs["on"] == outs["off"]).all()
    assert (outs["on"] == outs["frames"]).all()  # on: the model's method, frames
    assert outs["statistics"].shape == outs["off"].shape
    assert not (outs["statistics"] == outs["off"]).all() and not (outs["statistics"] == outs["frames"]).all()
    result = invoke("continue", model_dir, prompt, "-o", tmp_path / "bad.wav", "--voice-match", "yes")
    assert result.exit_code == 2 and "--voice-match must be on, off, frames or statistics" in result.output


def test_demo_command_prints_where_the_files_are(model_dir, prompt, tmp_path):
    out = tmp_path / "demo_out"
    result = invoke("demo", "--out", out, "--checkpoint", model_dir, "--prompt", prompt, "--prompt-seconds", 0.5,
                    "--seconds", 0.4, "--threads", 1)
    assert result.exit_code == 0, result.output
    for name in ("prompt.wav", "continuation.wav", "demo.png"):
        assert (out / name).exists()
        assert str(out / name) in result.output
    assert len(sf.read(out / "continuation.wav")[0]) == 20 * 320
    result = invoke("demo", "--out", out, "--checkpoint", tmp_path / "none")
    assert result.exit_code == 2 and "no AudioLM checkpoint" in result.output


@pytest.mark.parametrize("args, message", [
    (("-s", "inf"), "--seconds must be a positive, finite number of seconds, got inf"),
    (("-s", "nan"), "--seconds must be a positive, finite number of seconds, got nan"),
    (("--prompt-seconds", "-1"), "--prompt-seconds must be a positive, finite number of seconds, got -1.0"),
    (("-o", "{tmp}"), "is a directory"),
    (("-o", "/proc/out.wav"), "does not accept new files"),
    (("-o", "{tmp}/out"), "no extension"),
    (("-o", "{tmp}/out.mp4"), "extension '.mp4'; use one of .wav, .flac, .ogg"),
])
def test_bad_arguments_and_outputs_fail_before_any_work(prompt, tmp_path, args, message):
    # the model folder does not even exist: the checks run before anything is loaded or generated
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = invoke("continue", tmp_path / "no_model", prompt, *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_long_prompt_file_reads_only_the_tail_the_models_use(model_dir, tmp_path):
    t = torch.arange(int(30 * RATE)) / RATE
    long = save_audio(tmp_path / "long.wav", 0.3 * torch.sin(2 * math.pi * 330 * t * (1 + 0.05 * torch.sin(t)))[None],
                      RATE)
    start = AudioLM.from_pretrained(model_dir).prompt_cut(30 * RATE, RATE).start
    assert 25 * RATE < start < 30 * RATE  # 2 s context windows: most of the file is never read
    tail = save_audio(tmp_path / "tail.wav", sf.read(long, dtype="float32")[0][start:][None], RATE)
    for source, out in ((long, "a.wav"), (tail, "b.wav")):
        assert invoke("continue", model_dir, source, "-o", tmp_path / out, "-s", 0.3).exit_code == 0
    assert (sf.read(tmp_path / "a.wav")[0] == sf.read(tmp_path / "b.wav")[0]).all()
    first = invoke("continue", model_dir, long, "-o", tmp_path / "c.wav", "-s", 0.3, "--prompt-seconds", 10)
    assert first.exit_code == 0 and not (sf.read(tmp_path / "c.wav")[0] == sf.read(tmp_path / "a.wav")[0]).all()


def test_stage_with_nan_weights_is_named(model_dir, prompt, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    broken = shutil.copytree(model_dir, tmp_path / "nan_model")
    weights = load_file(broken / "fine_lm" / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = torch.full_like(weights[name], float("nan"))
    save_file(weights, broken / "fine_lm" / "model.safetensors")
    result = invoke("continue", broken, prompt, "-o", tmp_path / "out.wav", "-s", 0.3)
    assert result.exit_code == 2 and "fine_lm" in result.output and "NaN or Inf" in result.output
    assert not (tmp_path / "out.wav").exists()


def option_runs(model_dir, prompt, tmp_path, option: str, bad_value) -> dict:
    """``audiolm continue`` without ``option`` (key None) and with it at "0" and "1": the written samples of each,
    checked for what every such option shares: left out, it is the model's default (off, as "0"); out of range
    (``bad_value``), it is refused in one line that names it."""
    outs = {}
    for value in (None, "0", "1"):
        out = tmp_path / f"{option.strip('-')}_{value}.wav"
        extra = () if value is None else (option, value)
        result = invoke("continue", model_dir, prompt, "-o", out, "-s", 0.6, "--seed", 3, *extra)
        assert result.exit_code == 0, result.output
        outs[value] = sf.read(out)[0]
    assert (outs[None] == outs["0"]).all()  # the model's default: off
    assert outs["1"].shape == outs["0"].shape
    result = invoke("continue", model_dir, prompt, "-o", tmp_path / "bad.wav", option, bad_value)
    assert result.exit_code == 2 and option in result.output and "Traceback" not in result.output
    return outs


def test_postfilter_option_reaches_the_decoder(prompt, tmp_path):
    model = tiny_shipped_audiolm(levels=4)
    model.config.postfilter_threshold = 0.0  # every frame with any correlation filtered: a random model's output too
    model_dir = model.save_pretrained(tmp_path / "parallel")
    outs = option_runs(model_dir, prompt, tmp_path, "--postfilter", 1.5)
    assert not (outs["1"] == outs["0"]).all()


def test_envelope_match_option_reaches_the_decoded_audio(prompt, tmp_path):
    model_dir = tiny_shipped_audiolm(levels=4).save_pretrained(tmp_path / "parallel")
    outs = option_runs(model_dir, prompt, tmp_path, "--envelope-match", -0.5)
    assert not np.allclose(outs["1"], outs["0"], atol=1e-4)
    streamed = tmp_path / "em_stream.wav"
    result = invoke("continue", model_dir, prompt, "-o", streamed, "-s", 0.6, "--seed", 3, "--envelope-match", "1",
                    "--stream")
    assert result.exit_code == 0, result.output
    assert sf.read(streamed)[0].shape == outs["1"].shape


def test_adapt_steps_option_reaches_the_generator_and_keeps_it_float(prompt, tmp_path):
    model_dir = tiny_shipped_audiolm(levels=4).save_pretrained(tmp_path / "parallel")
    outs = option_runs(model_dir, prompt, tmp_path, "--adapt-steps", -1)
    assert not np.allclose(outs["1"], outs["0"], atol=1e-4)
    int8 = tmp_path / "int8.wav"  # every language model int8 but the acoustic generator, which the copy fine-tunes
    result = invoke("continue", model_dir, prompt, "-o", int8, "-s", 0.6, "--seed", 3, "--adapt-steps", 1,
                    "--int8", "on")
    assert result.exit_code == 0, result.output
    assert sf.read(int8)[0].shape == outs["1"].shape
    transformer_only = tmp_path / "transformer.wav"  # the copy trains its blocks only: another continuation
    result = invoke("continue", model_dir, prompt, "-o", transformer_only, "-s", 0.6, "--seed", 3, "--adapt-steps", 1,
                    "--adapt-parts", "transformer")
    assert result.exit_code == 0, result.output
    assert not np.allclose(sf.read(transformer_only)[0], outs["1"], atol=1e-4)
    result = invoke("continue", model_dir, prompt, "-o", tmp_path / "bad.wav", "--adapt-steps", 1, "--adapt-parts",
                    "heads")
    assert result.exit_code == 2 and "--adapt-parts must be one of all, transformer" in result.output
    assert "Traceback" not in result.output
    faster = tmp_path / "lr.wav"  # another learning rate: another copy, another continuation
    result = invoke("continue", model_dir, prompt, "-o", faster, "-s", 0.6, "--seed", 3, "--adapt-steps", 1,
                    "--adapt-lr", 3e-2)
    assert result.exit_code == 0, result.output
    assert not np.allclose(sf.read(faster)[0], outs["1"], atol=1e-4)
    for bad in (0, -1e-4):
        result = invoke("continue", model_dir, prompt, "-o", tmp_path / "bad.wav", "--adapt-lr", bad)
        assert result.exit_code == 2 and "--adapt-lr must be a finite number in (0, 1]" in result.output
    # held to the generator's own predictions on new content: another copy (from the second step: the pull's
    # gradient is zero while the copy still equals the generator)
    runs = {}
    for weight in (0, 3):
        runs[weight] = tmp_path / f"anchor{weight}.wav"
        result = invoke("continue", model_dir, prompt, "-o", runs[weight], "-s", 0.6, "--seed", 3, "--adapt-steps", 3,
                        "--adapt-lr", 3e-2, "--adapt-anchor", weight)
        assert result.exit_code == 0, result.output
    assert not np.allclose(sf.read(runs[3])[0], sf.read(runs[0])[0], atol=1e-4)
    result = invoke("continue", model_dir, prompt, "-o", tmp_path / "bad.wav", "--adapt-anchor", -1)
    assert result.exit_code == 2 and "--adapt-anchor must be a finite number in [0, 1000]" in result.output
    model = AudioLM.from_pretrained(model_dir)
    model.config.prompt_adaptation_steps = 30
    info = json.loads(invoke("info", model.save_pretrained(tmp_path / "adapting"), "--json").output)
    assert info["pipeline_decoding"]["prompt_adaptation"] == {"steps": 30, "learning_rate": 1e-4, "batch": 8,
                                                                   "parts": "all", "anchor_weight": 0.0}
