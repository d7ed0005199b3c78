"""The prompt brought to the training level (AudioLMConfig.prompt_peak, audiolm_lib.prompt_level): a quieter copy of
a prompt gives the same tokens and the same continuation, scaled by its own level; off by default; the stream and the
oracle ladder do as continue_audio does."""
import math

import pytest
import torch

from audiolm_lib.eval.oracle_ladder import ladder_waves
from audiolm_lib.pipeline import AudioLM, AudioLMConfig
from audiolm_lib.prompt_level import MAX_GAIN_DB, level_gain
from tiny_pipeline import tiny_parallel_audiolm

RATE = 16000


@pytest.fixture(scope="module")
def model():
    return tiny_parallel_audiolm()


@pytest.fixture
def prompt():
    t = torch.arange(RATE) / RATE
    return (0.6 * torch.sin(2 * math.pi * 220 * t) * (t < 0.5) + 0.4 * torch.sin(2 * math.pi * 990 * t) * (t >= 0.5))[None]


def seeded(seed=3):
    return torch.Generator().manual_seed(seed)


def run(model, wave, peak, seconds=1.0):
    model.config.prompt_peak = peak
    try:
        return model.continue_audio(wave, seconds, sample_rate=RATE, generator=seeded(), return_tokens=True,
                                    return_prompt=True)
    finally:
        model.config.prompt_peak = None


def test_gain_brings_each_items_peak_to_the_level():
    waves = torch.stack([torch.full((1, 8), 0.3), torch.full((1, 8), -0.09), torch.zeros(1, 8),
                         torch.full((1, 8), 1e-4)])
    gain = level_gain(waves, 0.9)
    assert gain.shape == (4, 1, 1)
    assert torch.allclose(gain.flatten(), torch.tensor([3.0, 10.0, 1.0, 10 ** (MAX_GAIN_DB / 20)]))
    assert torch.equal(level_gain(waves, None), torch.ones(4, 1, 1))  # off
    for bad in (0.0, 1.5, float("nan"), -0.5):
        with pytest.raises(ValueError, match="prompt_peak"):
            level_gain(waves, bad)
        with pytest.raises(ValueError, match="prompt_peak"):
            AudioLMConfig(prompt_peak=bad)


def test_a_quieter_prompt_continues_as_the_loud_one_at_its_own_level(model, prompt):
    loud, loud_tokens = run(model, prompt, 0.9)
    quiet, quiet_tokens = run(model, prompt * 0.25, 0.9)  # 12 dB down
    assert torch.equal(quiet_tokens["semantic"], loud_tokens["semantic"])
    assert torch.equal(quiet_tokens["codes"], loud_tokens["codes"])
    assert torch.allclose(quiet, loud * 0.25, atol=1e-6)
    # the level the models trained at: the loud prompt's peak (0.6) is raised to 0.9 too, then the output scaled back
    plain, plain_tokens = run(model, prompt, None)
    raised, raised_tokens = run(model, prompt * 1.5, None)
    assert torch.equal(raised_tokens["codes"], loud_tokens["codes"])
    assert torch.allclose(raised / 1.5, loud, atol=1e-6)
    # off (the default): the level reaches the tokens
    _, quiet_plain_tokens = run(model, prompt * 0.25, None)
    assert not torch.equal(quiet_plain_tokens["codes"], plain_tokens["codes"])
    assert model.config.prompt_peak is None


def test_stream_and_ladder_do_as_continue_audio(model, prompt):
    one_shot, tokens = run(model, prompt * 0.25, 0.9, seconds=1.5)
    model.config.prompt_peak = 0.9
    try:
        stream = model.stream(prompt * 0.25, 1.5, sample_rate=RATE, generator=seeded(), first_chunk_seconds=None)
        streamed = torch.cat(list(stream), dim=-1)
        loud_waves, loud_tokens = ladder_waves(model, prompt[0], prompt[0], seed=1)
        quiet_waves, quiet_tokens = ladder_waves(model, prompt[0] * 0.25, prompt[0] * 0.25, seed=1)
    finally:
        model.config.prompt_peak = None
    assert torch.equal(stream.codes, tokens["codes"])
    tail = one_shot[..., -streamed.shape[-1]:]
    assert abs(float(streamed.abs().max() / tail.abs().max()) - 1) < 0.2  # the quiet prompt's level, not the loud
    # rung c: the tokens and the continuation of the loud prompt, at the quiet one's level
    assert torch.equal(quiet_tokens["codes"], loud_tokens["codes"])
    assert torch.allclose(quiet_waves["acoustic"], loud_waves["acoustic"] * 0.25, atol=1e-6)
    assert torch.allclose(quiet_waves["pipeline"], loud_waves["pipeline"] * 0.25, atol=1e-6)


def test_setting_survives_save_and_load(tmp_path, model):
    import json

    model.config.prompt_peak = 0.9
    try:
        folder = model.save_pretrained(tmp_path / "level")
    finally:
        model.config.prompt_peak = None
    assert AudioLM.from_pretrained(folder).config.prompt_peak == 0.9
    meta = json.loads((folder / "config.json").read_text())
    del meta["config"]["prompt_peak"]  # a checkpoint written before the setting existed
    (folder / "config.json").write_text(json.dumps(meta))
    assert AudioLM.from_pretrained(folder).config.prompt_peak is None
