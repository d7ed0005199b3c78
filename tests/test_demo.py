"""The small recipe, the demo job and its plot, on tiny random components (seconds, no shipped weights needed)."""
import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from audiolm_lib.audio import save_audio
from audiolm_lib.demo import default_checkpoint, plot_continuation, run_demo
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.recipes import RecipeConfig, run_recipe, stage_train_config
from tiny_pipeline import tiny_model_dir

RATE = 16000


def chord(seconds: float, freqs=(220.0, 277.2, 329.6), rate: int = RATE) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return sum(0.2 * torch.sin(2 * math.pi * f * t) for f in freqs)[None]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory.mktemp("tiny_audiolm"))


@pytest.fixture
def prompt_file(tmp_path):
    return save_audio(tmp_path / "prompt.wav", chord(1.2), RATE)


def test_run_demo_writes_prompt_continuation_and_plot(model_dir, prompt_file, tmp_path):
    out = tmp_path / "demo"
    result = run_demo(out, "piano", checkpoint=model_dir, prompt_path=prompt_file, prompt_seconds=1.0, seconds=0.6,
                      seed=3, log=lambda *_: None)
    prompt, rate = sf.read(result.prompt)
    continuation, _ = sf.read(result.continuation)
    combined, _ = sf.read(result.combined)
    assert rate == RATE
    assert len(prompt) == RATE  # the first --prompt-seconds of the file
    assert len(continuation) == round(0.6 * 50) * 320  # 30 codec frames of 320 samples
    assert len(combined) == len(prompt) + len(continuation)
    np.testing.assert_allclose(prompt, chord(1.0)[0].numpy(), atol=1 / 2**15)  # 16-bit PCM of the input
    assert result.plot.stat().st_size > 10_000
    info = json.loads((out / "demo.json").read_text())
    assert info["model_dir"] == str(model_dir) and info["prompt_source"].startswith("file")


def test_demo_same_seed_same_continuation(model_dir, prompt_file, tmp_path):
    runs = [sf.read(run_demo(tmp_path / f"run{i}", "piano", checkpoint=model_dir, prompt_path=prompt_file,
                             prompt_seconds=1.0, seconds=0.4, seed=seed, log=lambda *_: None).continuation)[0]
            for i, seed in enumerate((5, 5, 6))]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_demo_errors_are_clear(model_dir, tmp_path):
    with pytest.raises(ValueError, match="kind must be one of"):
        run_demo(tmp_path, "drums", checkpoint=model_dir)
    with pytest.raises(FileNotFoundError, match="no AudioLM checkpoint"):
        run_demo(tmp_path, "piano", checkpoint=tmp_path / "missing")
    with pytest.raises(ValueError, match="must be positive"):
        run_demo(tmp_path, "piano", checkpoint=model_dir, seconds=0)


def test_plot_has_expected_size(tmp_path):
    import matplotlib.image

    tokens = {"semantic": torch.randint(0, 16, (1, 100)), "codes": torch.randint(0, 32, (1, 4, 100)),
              "prompt_frames": 50}
    path = plot_continuation(chord(1.0)[0], chord(1.0, (440.0,))[0], RATE, tokens, tmp_path / "p.png", "t")
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (700, 1100)  # figsize (11, 7) at 100 dpi
    assert image[..., :3].std() > 0.05  # not a blank canvas


@pytest.mark.slow
def test_tiny_recipe_end_to_end_on_own_audio(tmp_path):
    """data -> codec -> tokenizer -> token cache -> three stages -> AudioLM directory, then a resumed run reuses it."""
    audio = tmp_path / "audio"
    entries = []
    for i in range(6):
        name = f"clip{i}"
        save_audio(audio / f"{name}.wav", chord(2.0, (200.0 + 40 * i, 300.0 + 30 * i)), RATE)
        entries.append({"id": name, "audio": f"audio/{name}.wav", "duration": 2.0, "sample_rate": RATE,
                        "split": "valid" if i == 5 else "train"})
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))
    config = RecipeConfig.tiny("piano")
    model = run_recipe(config, tmp_path / "work", tmp_path / "model", manifest=manifest, progress=False)
    loaded = AudioLM.from_pretrained(tmp_path / "model")
    # the shipped architecture at a tiny size: a SpectralCodec and the parallel generator over all its levels
    assert type(loaded.acoustic).__name__ == "ParallelAcousticLM" and type(loaded.codec).__name__ == "SpectralCodec"
    assert loaded.num_quantizers == 2 and loaded.codec.codebook_size == 32
    assert loaded.semantic_tokenizer.vocab_size == config.tokenizer_clusters
    for stage in ("semantic", "parallel"):
        result = json.loads((tmp_path / "work" / f"stage_{stage}" / "result.json").read_text())
        assert result["steps"] == 4 and math.isfinite(result["train_loss"])
        assert result["valid_loss"] is not None and math.isfinite(result["valid_loss"])
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    wave = loaded.continue_audio(chord(0.5), 0.4, sample_rate=RATE, generator=torch.Generator().manual_seed(0))
    assert wave.shape == (1, 1, 20 * 320) and torch.isfinite(wave).all()
    again = run_recipe(config, tmp_path / "work", tmp_path / "model2", manifest=manifest, progress=False)
    for name, tensor in again.state_dict().items():  # every phase was reused, nothing retrained
        assert torch.equal(tensor, loaded.state_dict()[name]), name


def test_recipe_config_budget_and_checks():
    config = RecipeConfig.small("speech", budget_minutes=100)
    assert config.stages == ("semantic", "parallel")
    assert config.codec_minutes + config.semantic.minutes + config.parallel.minutes == pytest.approx(100)
    assert config.codec_minutes == pytest.approx(30)
    assert "layout" not in stage_train_config(config, "parallel").model  # the parallel model has none
    assert RecipeConfig.small("piano").tokenizer_features == "logmel"
    config = RecipeConfig(kind="speech", acoustic_generator="hierarchical").set_budget(100)
    assert config.stages == ("semantic", "coarse", "fine")
    total = config.codec_minutes + config.semantic.minutes + config.coarse.minutes + config.fine.minutes
    assert total == pytest.approx(100)
    train = stage_train_config(config, "fine")
    assert train.model["num_fine_quantizers"] == 4 and train.model["layout"] == "delay"
    with pytest.raises(ValueError, match="kind must be one of"):
        RecipeConfig(kind="drums")
    with pytest.raises(ValueError, match="exceed"):
        RecipeConfig(acoustic_generator="hierarchical", num_coarse_quantizers=8, num_fine_quantizers=8)
    with pytest.raises(ValueError, match="unknown acoustic generator"):
        RecipeConfig(acoustic_generator="diffusion")


@pytest.mark.slow
def test_demo_prompts_come_from_held_out_pieces_and_speakers():
    from audiolm_lib.datasets.splits import piece_split, speaker_split
    from audiolm_lib.datasets.voices import catalogue
    from audiolm_lib.demo import piano_prompt, speech_prompt

    wave, source = piano_prompt(1.0)
    assert wave.shape == (1, RATE) and wave.abs().max() > 0.05
    assert piece_split(source.split("'")[1]) == "test"
    wave, source = speech_prompt(1.0)
    assert wave.shape == (1, RATE) and wave.abs().max() > 0.05
    voice = {v.name: v for v in catalogue()}[source.split()[1]]
    assert speaker_split(voice.identity) == "test"


def test_shipped_piano_checkpoint_continues_a_prompt():
    model = AudioLM.from_pretrained(default_checkpoint("piano"))
    wave = model.continue_audio(chord(1.0), 1.0, sample_rate=RATE, generator=torch.Generator().manual_seed(0))
    assert wave.shape == (1, 1, 50 * model.codec.hop_length)
    assert torch.isfinite(wave).all() and wave.abs().max() > 1e-3
