"""Voice matching by statistics (audiolm_lib.voice_match.PromptStatisticsMatcher): each latent dimension of a
generated frame standardised by the running statistics of the generated frames and given the prompt's; causal, so
chunk by chunk equals all at once; the pipeline, the stream and a saved checkpoint honour the method."""
import math

import pytest
import torch

from audiolm_lib.pipeline import AudioLM, AudioLMConfig
from audiolm_lib.voice_match import PromptStatisticsMatcher, code_latents
from tiny_pipeline import tiny_parallel_audiolm

RATE = 16000


@pytest.fixture(scope="module")
def model():
    return tiny_parallel_audiolm()


def random_codes(codec, frames: int, levels: int | None = None, seed: int = 0) -> torch.Tensor:
    levels = codec.num_quantizers if levels is None else levels
    return torch.randint(0, codec.codebook_size, (1, levels, frames), generator=torch.Generator().manual_seed(seed))


def reference_moved(codec, generated, prompt, strength, prior_frames):
    """The moved latents frame by frame, written out plainly (float64)."""
    levels = generated.shape[1]
    values = code_latents(codec, generated)[0].double()
    keys = code_latents(codec, prompt[:, :levels])[0].double()
    mean_p, std_p = keys.mean(-1), keys.std(-1)
    out = torch.empty_like(values)
    for t in range(values.shape[-1]):
        seen = values[:, : t + 1]
        count = prior_frames + t + 1
        mean = (prior_frames * mean_p + seen.sum(-1)) / count
        second = (prior_frames * (std_p ** 2 + mean_p ** 2) + seen.square().sum(-1)) / count
        std = (second - mean ** 2).clamp_min(0).sqrt()
        target = torch.where(std > 1e-6, (values[:, t] - mean) / std.clamp_min(1e-6) * std_p + mean_p, values[:, t])
        out[:, t] = values[:, t] + strength * (target - values[:, t])
    return out[None].float()


@pytest.mark.parametrize("strength, prior_frames", [(1.0, 0), (1.0, 25), (0.6, 5)])
def test_matches_the_frame_by_frame_reference_and_chunks_equal_the_whole(model, strength, prior_frames):
    codec = model.codec
    prompt, generated = random_codes(codec, 30, seed=1), random_codes(codec, 40, seed=2)
    whole = PromptStatisticsMatcher(codec, prompt, strength, prior_frames)(generated)
    expected = codec.quantizer.encode(reference_moved(codec, generated, prompt, strength, prior_frames),
                                      generated.shape[1])
    assert whole.shape == generated.shape and torch.equal(whole, expected)
    matcher = PromptStatisticsMatcher(codec, prompt, strength, prior_frames)
    pieces = [matcher(part) for part in generated.split([1, 6, 0, 33], dim=-1)]
    assert torch.equal(torch.cat(pieces, dim=-1), whole)


def test_moves_the_generated_statistics_toward_the_prompts_the_more_the_stronger(model):
    codec = model.codec
    prompt = random_codes(codec, 60, seed=3)
    # a continuation drawn from a quarter of the codebook: statistics unlike the prompt's
    generated = random_codes(codec, 200, seed=4) % (codec.codebook_size // 4)
    target = code_latents(codec, prompt)[0]

    def distance(codes):  # of the per-dimension means and spreads, the second half (the running stats settled)
        latents = code_latents(codec, codes)[0, :, 100:]
        return float((latents.mean(-1) - target.mean(-1)).norm() + (latents.std(-1) - target.std(-1)).norm())

    distances = [distance(generated)] + [distance(PromptStatisticsMatcher(codec, prompt, s, 0)(generated))
                                         for s in (0.5, 1.0)]
    assert distances[0] > distances[1] > distances[2]
    assert distances[2] < 0.6 * distances[0]


def test_a_large_prior_keeps_the_frames(model):
    codec = model.codec
    prompt, generated = random_codes(codec, 30, seed=5), random_codes(codec, 20, seed=6)
    kept = PromptStatisticsMatcher(codec, prompt, 1.0, 10 ** 9)(generated)
    # the running statistics are the prompt's: every latent maps to itself, so the codes are its RVQ reading
    assert torch.equal(kept, codec.quantizer.encode(code_latents(codec, generated), generated.shape[1]))


def test_fewer_levels_use_the_prompts_leading_levels(model):
    codec = model.codec
    prompt, generated = random_codes(codec, 30, seed=7), random_codes(codec, 15, levels=2, seed=8)
    matched = PromptStatisticsMatcher(codec, prompt)(generated)
    assert matched.shape == (1, 2, 15)
    assert torch.equal(matched, PromptStatisticsMatcher(codec, prompt[:, :2])(generated))


def test_bad_input_is_named(model):
    codec = model.codec
    prompt = random_codes(codec, 10)
    with pytest.raises(ValueError, match="at least two prompt frames"):
        PromptStatisticsMatcher(codec, prompt[..., :1])
    with pytest.raises(ValueError, match="strength"):
        PromptStatisticsMatcher(codec, prompt, strength=0.0)
    with pytest.raises(ValueError, match="prior_frames"):
        PromptStatisticsMatcher(codec, prompt, prior_frames=-1)
    with pytest.raises(ValueError, match="quantizer.encode"):
        PromptStatisticsMatcher(object(), prompt)
    with pytest.raises(ValueError, match="do not fit"):
        PromptStatisticsMatcher(codec, prompt[:, :1])(random_codes(codec, 5))
    with pytest.raises(ValueError, match=r"\[B, levels, frames\]"):
        PromptStatisticsMatcher(codec, prompt)(random_codes(codec, 5)[0])
    assert PromptStatisticsMatcher(codec, prompt)(random_codes(codec, 5)[..., :0]).shape == (1, 3, 0)
    with pytest.raises(ValueError, match="voice_match_method"):
        AudioLMConfig(voice_match_method="nearest")
    with pytest.raises(ValueError, match="voice_match_prior_frames"):
        AudioLMConfig(voice_match_prior_frames=-2)


@pytest.fixture
def prompt():
    t = torch.arange(RATE) / RATE
    return (0.3 * torch.sin(2 * math.pi * 220 * t) + 0.1 * torch.sin(2 * math.pi * 1330 * t))[None]


def test_pipeline_stream_and_checkpoint_use_the_method(model, prompt, tmp_path):
    def seeded():
        return torch.Generator().manual_seed(11)

    _, plain = model.continue_audio(prompt, 1.0, sample_rate=RATE, generator=seeded(), return_tokens=True)
    model.config.voice_match, model.config.voice_match_method = True, "statistics"
    try:
        _, matched = model.continue_audio(prompt, 1.0, sample_rate=RATE, generator=seeded(), return_tokens=True)
        stream = model.stream(prompt, 1.0, sample_rate=RATE, generator=seeded())
        list(stream)
        folder = model.save_pretrained(tmp_path / "statistics")
    finally:
        model.config.voice_match, model.config.voice_match_method = False, "frames"
    known = plain["prompt_frames"]
    prompt_codes = plain["codes"][..., :known]
    expected = PromptStatisticsMatcher(model.codec, prompt_codes)(plain["codes"][..., known:])
    assert torch.equal(matched["codes"][..., known:], expected)
    assert not torch.equal(expected, plain["codes"][..., known:])
    generated = stream._ids[:, : stream.levels, stream.known:]
    assert torch.equal(stream.codes[..., stream.known:],
                       PromptStatisticsMatcher(model.codec, stream.codes[..., : stream.known])(generated))
    loaded = AudioLM.from_pretrained(folder).config
    assert (loaded.voice_match, loaded.voice_match_method, loaded.voice_match_prior_frames) == (True, "statistics", 10)


def test_a_prompt_too_short_for_statistics_is_refused_before_any_generation(model, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("generated before refusing the setting")

    monkeypatch.setattr(model.semantic_lm, "generate", must_not_run)
    monkeypatch.setattr(model.config, "voice_match", True)
    monkeypatch.setattr(model.config, "voice_match_method", "statistics")
    one_frame = torch.randn(1, model.codec.hop_length, generator=torch.Generator().manual_seed(0)) * 0.1
    with pytest.raises(ValueError, match="at least two prompt frames"):
        model.continue_audio(one_frame, 0.5, sample_rate=RATE)


def test_every_configurable_method_has_a_matcher(model):
    from audiolm_lib.pipeline_config import VOICE_MATCH_METHODS
    from audiolm_lib.voice_match import MATCHERS, PromptFrameMatcher, voice_matcher_for

    assert set(MATCHERS) == set(VOICE_MATCH_METHODS)
    prompt = random_codes(model.codec, 12)
    made = {method: voice_matcher_for(model.codec, prompt, AudioLMConfig(voice_match_method=method))
            for method in VOICE_MATCH_METHODS}
    assert isinstance(made["frames"], PromptFrameMatcher) and isinstance(made["statistics"], PromptStatisticsMatcher)
    config = AudioLMConfig(voice_match_method="statistics", voice_match_strength=0.5, voice_match_prior_frames=3)
    matcher = voice_matcher_for(model.codec, prompt, config)
    assert (matcher.strength, matcher.prior_frames) == (0.5, 3)
