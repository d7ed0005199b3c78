"""The in-context code prior of the parallel generator and the semantic stage: counted frequencies, off at 0 bit
for bit, generated codes drawn toward the prompt's as the strength grows, every window and the stream alike, clear
errors."""
import pytest
import torch

from audiolm_lib.lm.parallel import ParallelAcousticLM
from audiolm_lib.lm.prompt_prior import SMOOTHING, prompt_log_prior
from audiolm_lib.lm.stages import SemanticLM, SemanticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig

from tiny_parallel import tiny_parallel

LEVELS, CODES, PROMPT, NEW = 2, 16, 10, 14


def make_model(**overrides) -> ParallelAcousticLM:
    return tiny_parallel(LEVELS, CODES, 0.4, **overrides)


def inputs(batch=2):
    generator = torch.Generator().manual_seed(1)
    semantic = torch.randint(32, (batch, PROMPT + NEW), generator=generator)
    prompt = torch.randint(3, (batch, LEVELS, PROMPT), generator=generator)  # codes 0, 1, 2 only
    return semantic, prompt


def test_log_prior_counts_each_items_codes_and_skips_mask_tokens():
    codes = torch.tensor([[3, 3, 3, 1, CODES], [0, 0, 0, 0, 0]])  # CODES: a mask token, not counted
    prior = prompt_log_prior(codes, CODES)
    assert prior.shape == (2, CODES)
    assert torch.allclose(prior.exp().sum(1), torch.ones(2))
    total = 4 + SMOOTHING * CODES
    assert torch.isclose(prior[0, 3].exp(), torch.tensor((3 + SMOOTHING) / total))
    assert torch.isclose(prior[0, 5].exp(), torch.tensor(SMOOTHING / total))  # never used: small, not zero
    assert prior[0, 3] > prior[0, 1] > prior[0, 0] and prior[1, 0] > prior[0, 0]
    assert torch.isclose(prior[1, 0].exp(), torch.tensor((5 + SMOOTHING) / (5 + SMOOTHING * CODES)))


def test_strength_zero_is_the_sampling_without_a_prior():
    semantic, prompt = inputs()
    model = make_model()
    plain = model.generate(semantic, prompt, NEW, generator=torch.Generator().manual_seed(4))
    zero = model.generate(semantic, prompt, NEW, generator=torch.Generator().manual_seed(4), prompt_prior=0.0)
    assert torch.equal(plain, zero)


def test_generated_codes_move_toward_the_prompts_codes_as_the_strength_grows():
    semantic, prompt = inputs()
    model = make_model(steps_per_level=(4, 1))

    def share_in_prompt(strength):
        shares = []
        for seed in range(4):
            codes = model.generate(semantic, prompt, NEW, generator=torch.Generator().manual_seed(seed),
                                   prompt_prior=strength)
            shares.append((codes < 3).float().mean())
        return float(torch.stack(shares).mean())

    shares = [share_in_prompt(s) for s in (0.0, 0.5, 1.5, 20.0)]
    assert shares[0] < 0.5  # the untrained model alone: about 3 of 16 codes
    assert shares == sorted(shares) and shares[1] > shares[0]
    assert shares[-1] == 1.0  # a strong prior: every level of every frame takes one of the prompt's codes


def test_config_prior_reaches_every_window_and_the_argmax_levels():
    semantic, prompt = inputs(batch=1)
    semantic = torch.cat([semantic, semantic], dim=1)  # 48 frames: several 20-frame windows
    model = make_model(prompt_prior=20.0, sampled_levels=1)
    codes = model.generate(semantic, prompt, 2 * (PROMPT + NEW) - PROMPT, generator=torch.Generator().manual_seed(0))
    assert len(model.windows(PROMPT, 2 * (PROMPT + NEW))) > 2
    assert bool((codes < 3).all())  # level 2 (argmax) as well; later windows' prompts are generated frames


def test_a_negative_or_infinite_strength_is_refused_naming_it():
    with pytest.raises(ValueError, match="prompt_prior"):
        make_model(prompt_prior=-1.0)
    semantic, prompt = inputs()
    with pytest.raises(ValueError, match="prompt_prior"):
        make_model().generate(semantic, prompt, NEW, prompt_prior=float("inf"))


def semantic_lm(**overrides) -> SemanticLM:
    torch.manual_seed(0)
    return SemanticLM(SemanticLMConfig(vocab_size=12, window_seconds=0.4, transformer=TransformerConfig(
        dim=32, depth=1, heads=2, max_seq_len=64), **overrides)).eval()  # a 20-token window: it slides


def test_semantic_prior_off_is_plain_sampling_and_strong_keeps_the_prompts_ids_through_sliding_windows():
    prompt = torch.randint(2, (2, 8), generator=torch.Generator().manual_seed(1))  # ids 0 and 1 only
    model = semantic_lm()
    plain = model.generate(prompt, 40, generator=torch.Generator().manual_seed(2))
    assert torch.equal(model.generate(prompt, 40, generator=torch.Generator().manual_seed(2), prompt_prior=0), plain)
    assert float((plain < 2).float().mean()) < 0.5
    strong = semantic_lm(prompt_prior=20.0).generate(prompt, 40, generator=torch.Generator().manual_seed(2))
    assert bool((strong < 2).all())
    guided = model.generate(prompt, 40, generator=torch.Generator().manual_seed(2), guidance_scale=2.0,
                            prompt_prior=20.0)
    assert bool((guided < 2).all())  # the guided sampler takes the prior too
    other = model.generate(prompt, 40, generator=torch.Generator().manual_seed(2), prompt_prior=20.0,
                           prior_tokens=torch.full((2, 5), 7))
    assert bool((other == 7).all())  # the prior counts prior_tokens when given


def test_low_latency_stream_counts_the_given_prompt_only(monkeypatch):
    from tiny_pipeline import tiny_parallel_audiolm

    model = tiny_parallel_audiolm()
    model.semantic_lm.config.prompt_prior = 20.0
    calls, generate = [], model.semantic_lm.generate

    def recording(history, count, **kwargs):
        calls.append((history, kwargs.get("prior_tokens")))
        return generate(history, count, **kwargs)

    monkeypatch.setattr(model.semantic_lm, "generate", recording)
    stream = model.stream(torch.randn(1, 16000) * 0.1, 3.0, sample_rate=16000,
                          generator=torch.Generator().manual_seed(0))
    for _ in stream:
        pass
    given = stream.semantic[:, :calls[0][0].shape[1]]  # the first call's history is the given prompt
    assert len(calls) > 1 and any(history.shape[1] > given.shape[1] for history, _ in calls)  # chunks continue
    assert all(torch.equal(counted, given) for _, counted in calls)
    assert set(stream.semantic[0, given.shape[1]:].tolist()) <= set(given[0].tolist())


def learned_prior_model(scale: float) -> ParallelAcousticLM:
    from audiolm_lib.training.extend import extended

    model = extended(make_model(steps_per_level=(4, 1)), prompt_prior_learned=True).eval()
    with torch.no_grad():
        model.prompt_prior_scale.fill_(scale)
    return model


def test_a_learned_strength_samples_as_the_same_strength_given_at_decoding():
    semantic, prompt = inputs()
    plain = make_model(steps_per_level=(4, 1))
    for strength in (0.0, 0.7):
        learned = learned_prior_model(strength).generate(semantic, prompt, NEW,
                                                         generator=torch.Generator().manual_seed(3))
        given = plain.generate(semantic, prompt, NEW, generator=torch.Generator().manual_seed(3),
                               prompt_prior=strength)
        assert torch.equal(learned, given)


def test_training_pulls_the_learned_strength_up_where_continuations_use_the_prompts_codes():
    semantic, prompt = inputs()
    model = learned_prior_model(0.0).train()
    continuation = torch.randint(3, (2, LEVELS, NEW), generator=torch.Generator().manual_seed(5))  # codes 0-2 only
    codes = torch.cat([prompt, continuation], dim=2)
    loss = model(semantic, codes, generator=torch.Generator().manual_seed(0))
    loss.backward()
    scored = model.prompt_prior_scale.grad != 0
    assert bool(scored.any()) and bool((model.prompt_prior_scale.grad[scored] < 0).all())  # larger: lower loss


def test_the_learned_prior_is_off_without_a_prompt_and_scored_with_one():
    semantic, prompt = inputs()
    plain, learned = make_model(steps_per_level=(4, 1)), learned_prior_model(1.0)
    codes = torch.cat([prompt, torch.randint(3, (2, LEVELS, NEW), generator=torch.Generator().manual_seed(5))], 2)
    with torch.no_grad():
        no_prompt = [m.generate(semantic[:, :NEW], None, NEW, generator=torch.Generator().manual_seed(1))
                     for m in (plain, learned)]  # one window, no prompt: no prior
        assert torch.equal(*no_prompt)
        plain_ce, learned_ce = plain.level_cross_entropy(semantic, codes, PROMPT), learned.level_cross_entropy(
            semantic, codes, PROMPT)
    assert bool((learned_ce < plain_ce).all())  # the continuation uses the prompt's codes: the prior helps
