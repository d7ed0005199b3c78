import math

import pytest
import torch

from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig, SemanticLM, SemanticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig
from audiolm_lib.serialization import CheckpointError
from layout_contract import check_overfits_and_regenerates

K = 16  # codebook size of the tiny models


def tcfg(**kw):
    return TransformerConfig(dim=32, depth=2, heads=2, max_seq_len=256, **kw)


def semantic_lm(**kw):
    return SemanticLM(SemanticLMConfig(vocab_size=12, window_seconds=0.4, transformer=tcfg(), **kw)).eval()


def coarse_lm(**kw):
    return CoarseLM(CoarseLMConfig(semantic_vocab_size=12, codebook_size=K, num_coarse_quantizers=3,
                                   window_seconds=0.2, transformer=tcfg(), **kw)).eval()


def fine_lm(**kw):
    return FineLM(FineLMConfig(codebook_size=K, num_coarse_quantizers=2, num_fine_quantizers=3,
                               window_seconds=0.2, transformer=tcfg(), **kw)).eval()


def make_eos_certain(model):
    # LayerNorm output has zero mean over features; a constant bias plus a constant EOS row gives EOS
    # a logit of 100 * dim while every code row stays near 0
    with torch.no_grad():
        model.transformer.norm.bias.fill_(1.0)
        model.head[0, model.config.vocab_size].fill_(100.0)


def gen(seed):
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------- training
def test_initial_loss_is_near_ln_vocab():
    big = TransformerConfig(dim=64, depth=2, heads=2, max_seq_len=2048)
    sem = SemanticLM(SemanticLMConfig(vocab_size=500, transformer=big, window_seconds=10))
    coarse = CoarseLM(CoarseLMConfig(codebook_size=1024, transformer=big, window_seconds=4))
    fine = FineLM(FineLMConfig(codebook_size=1024, transformer=big, window_seconds=1))
    s, c, f = torch.randint(0, 500, (2, 50)), torch.randint(0, 1024, (2, 4, 50)), torch.randint(0, 1024, (2, 8, 50))
    assert sem(s).item() == pytest.approx(math.log(501), rel=0.1)
    assert coarse(s, c).item() == pytest.approx(math.log(1024), rel=0.1)
    assert fine(c, f).item() == pytest.approx(math.log(1024), rel=0.1)


def test_loss_only_counts_targets_and_ignores_padding():
    model = coarse_lm()
    sem, codes = torch.randint(0, 12, (2, 8)), torch.randint(0, K, (2, 3, 8))
    per_token = model(sem, codes, reduction="none")
    assert per_token.shape == (2, 3, 8)
    per_level = model(sem, codes, reduction="level")
    torch.testing.assert_close(per_level, per_token.mean(dim=(0, 2)))
    torch.testing.assert_close(model(sem, codes), per_token.mean())
    padded = codes.clone()
    padded[:, :, 6:] = -1  # right padding: prefix losses unchanged, padded positions excluded
    torch.testing.assert_close(model(sem, padded), per_token[:, :, :6].mean(), atol=1e-5, rtol=0)


def test_tiny_model_overfits_a_tiny_batch():
    check_overfits_and_regenerates(fine_lm, K, frames=6)


def test_semantic_eos_target_and_bad_inputs():
    model = semantic_lm()
    sem = torch.randint(0, 12, (2, 6))
    assert model(sem, eos=True).shape == ()
    assert model(sem, eos=True, reduction="none").shape == (2, 1, 7)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 12\)"):
        model(torch.tensor([[3, 12]]))
    with pytest.raises(ValueError, match="2 dimensions"):
        model(torch.zeros(2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        model(torch.zeros(1, 3))
    fine = fine_lm()
    with pytest.raises(ValueError, match="frames"):
        fine(torch.zeros(1, 2, 4, dtype=torch.long), torch.zeros(1, 3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="3 levels"):
        fine(torch.zeros(1, 2, 4, dtype=torch.long), torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="semantic has"):
        coarse_lm().generate(torch.zeros(1, 3, dtype=torch.long), None, 40)
    with pytest.raises(ValueError, match="semantic has"):
        coarse_lm()(torch.zeros(1, 30, dtype=torch.long), torch.zeros(1, 3, 10, dtype=torch.long))


# --------------------------------------------------------------------------------------------- sampling
def test_each_level_emits_only_its_codes_and_every_code_is_reachable():
    model = coarse_lm()
    # push the shared hidden state to favour a single code; level masking must still keep ids in range
    sem = torch.randint(0, 12, (8, 24))
    out = model.generate(sem, None, 24, temperature=5.0, generator=gen(0))
    assert out.shape == (8, 3, 24) and out.min() >= 0 and out.max() < K
    for level in range(3):  # high temperature on a near-uniform model: all K codes show up at each level
        assert set(out[:, level].flatten().tolist()) == set(range(K))
    fine = fine_lm()
    out = fine.generate(torch.randint(0, K, (8, 2, 30)), None, temperature=5.0, generator=gen(1))
    assert out.shape == (8, 3, 30) and out.min() >= 0 and out.max() < K
    for level in range(3):
        assert set(out[:, level].flatten().tolist()) == set(range(K))


def test_semantic_never_emits_special_tokens_without_eos():
    model = semantic_lm()
    make_eos_certain(model)  # it must still never be sampled
    out = model.generate(torch.randint(0, 12, (4, 3)), 30, generator=gen(0))
    assert out.min() >= 0 and out.max() < 12


def test_same_seed_same_output_different_seed_different():
    model = coarse_lm()
    sem = torch.randint(0, 12, (2, 12))
    a = model.generate(sem, None, 12, generator=gen(5))
    b = model.generate(sem, None, 12, generator=gen(5))
    c = model.generate(sem, None, 12, generator=gen(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_batch_equals_per_item_runs_greedy():
    model = fine_lm()
    coarse, prompt = torch.randint(0, K, (3, 2, 25)), torch.randint(0, K, (3, 3, 4))
    batch = model.generate(coarse, prompt, temperature=0)
    single = torch.cat([model.generate(coarse[i : i + 1], prompt[i : i + 1], temperature=0) for i in range(3)])
    assert torch.equal(batch, single)
    sem = semantic_lm()
    prompts = torch.randint(0, 12, (3, 5))
    batch = sem.generate(prompts, 30, temperature=0)
    assert torch.equal(batch, torch.cat([sem.generate(p[None], 30, temperature=0) for p in prompts]))


def test_generation_matches_full_forward_greedy():
    # the cached sampler must pick the argmax of the full (uncached) forward at every position
    model = coarse_lm()
    sem = torch.randint(0, 12, (1, 8))
    prompt = torch.randint(0, K, (1, 3, 3))
    out = model.generate(sem, prompt, 5, temperature=0)  # 8 frames <= window of 10: no sliding
    codes = torch.cat([prompt, out], dim=2)
    per_token = model(sem, codes, reduction="none")  # greedy picks => each new token is the argmax
    ids = model.layout.sequence(sem, codes)
    hidden = model.transformer(model.embedding(ids))[0]
    for frame in range(3, 8):
        for level in range(3):
            pos = 8 + frame * 3 + level  # predicted from the position before the token
            logits = hidden[pos] @ model.head_weight(level).T
            assert int(logits.argmax()) == int(codes[0, level, frame])
    assert torch.isfinite(per_token).all()


def test_generation_ignores_dropout_and_restores_training_mode():
    model = SemanticLM(SemanticLMConfig(vocab_size=12, transformer=tcfg(dropout=0.5), window_seconds=0.4))
    model.train()
    prompt = torch.randint(0, 12, (2, 5))
    a = model.generate(prompt, 12, temperature=0)
    b = model.generate(prompt, 12, temperature=0)
    assert torch.equal(a, b) and model.training
    assert torch.equal(a, model.eval().generate(prompt, 12, temperature=0))


def test_unconditional_semantic_and_zero_length():
    model = semantic_lm()
    out = model.generate(torch.zeros(2, 0, dtype=torch.long), 7, generator=gen(0))
    assert out.shape == (2, 7) and out.min() >= 0
    assert model.generate(torch.zeros(1, 4, dtype=torch.long), 0).shape == (1, 0)


def test_eos_stops_semantic_generation():
    model = semantic_lm()
    make_eos_certain(model)
    out = model.generate(torch.randint(0, 12, (2, 4)), 10, temperature=0, stop_at_eos=True)
    assert out.shape == (2, 10) and (out == -1).all()
    fresh = semantic_lm()
    out = fresh.generate(torch.randint(0, 12, (2, 4)), 10, temperature=0, stop_at_eos=True)
    assert out.min() >= 0  # untrained: EOS is one of 13 options, greedy does not pick it here


def test_long_generation_uses_only_recent_context():
    model = coarse_lm()  # window: 10 frames, hop 5
    with torch.no_grad():  # peaky distributions, so a change of context visibly changes the samples
        model.head.mul_(50)
    sem = torch.randint(0, 12, (1, 60))
    out = model.generate(sem, None, 60, generator=gen(0))  # 6x the window
    assert out.shape == (1, 3, 60) and out.min() >= 0
    prompt = torch.randint(0, K, (1, 3, 30))
    other_prompt, other_sem = prompt.clone(), sem.clone()
    other_prompt[:, :, :20] = torch.randint(0, K, (1, 3, 20))  # differs only before the window
    other_sem[:, :20] = torch.randint(0, 12, (1, 20))
    a = model.generate(sem, prompt, 30, generator=gen(1))
    b = model.generate(other_sem, other_prompt, 30, generator=gen(1))
    assert torch.equal(a, b)
    other_prompt[:, :, 25] = (prompt[:, :, 25] + 1) % K  # inside the window: output changes
    c = model.generate(sem, other_prompt, 30, generator=gen(1))
    assert not torch.equal(a, c)
    semantic = semantic_lm()  # window 20 tokens
    long = semantic.generate(torch.randint(0, 12, (1, 50)), 70, generator=gen(2))
    assert long.shape == (1, 70) and long.min() >= 0


def test_coarse_with_a_slower_semantic_rate():
    model = coarse_lm(semantic_rate=25.0)  # two acoustic frames per semantic token
    assert [model.semantic_index(f) for f in (0, 1, 2, 3, 10)] == [0, 1, 1, 2, 5]
    loss = model(torch.randint(0, 12, (2, 5)), torch.randint(0, K, (2, 3, 10)))
    assert torch.isfinite(loss)
    out = model.generate(torch.randint(0, 12, (1, 29)), torch.randint(0, K, (1, 3, 4)), 55, generator=gen(0))
    assert out.shape == (1, 3, 55) and out.min() >= 0 and out.max() < K


def test_fine_runs_consecutive_windows():
    model = fine_lm()  # window 10 frames, hop 10
    coarse = torch.randint(0, K, (1, 2, 35))
    out = model.generate(coarse, None, generator=gen(0))
    assert out.shape == (1, 3, 35)
    changed = coarse.clone()
    changed[:, :, 5] = (coarse[:, :, 5] + 1) % K  # only the first window sees frame 5
    again = model.generate(changed, None, generator=gen(0))
    # same generator state => windows after the first draw identical random numbers; the model's
    # context for frames >= 10 excludes frame 5, so those frames agree
    assert torch.equal(out[:, :, 10:], again[:, :, 10:])


# --------------------------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("factory", [semantic_lm, coarse_lm, fine_lm])
def test_save_and_load_give_identical_logits(tmp_path, factory):
    model = factory(tie_embeddings=True) if factory is fine_lm else factory()
    model.save_pretrained(tmp_path / "m")
    loaded = type(model).from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    if isinstance(model, SemanticLM):
        args = (torch.randint(0, 12, (2, 9)),)
    elif isinstance(model, CoarseLM):
        args = (torch.randint(0, 12, (2, 6)), torch.randint(0, K, (2, 3, 6)))
    else:
        args = (torch.randint(0, K, (2, 2, 6)), torch.randint(0, K, (2, 3, 6)))
    torch.testing.assert_close(loaded(*args, reduction="none"), model(*args, reduction="none"), atol=0, rtol=0)
    with pytest.raises(CheckpointError):
        (SemanticLM if not isinstance(model, SemanticLM) else CoarseLM).from_pretrained(tmp_path / "m")


def test_window_must_fit_max_seq_len():
    with pytest.raises(ValueError, match="max_seq_len"):
        CoarseLM(CoarseLMConfig(transformer=TransformerConfig(max_seq_len=512)))


def test_semantic_window_follows_its_config_at_generation():
    """A decoding override of the semantic stage's hop changes where the window slides (and so the tokens); one past
    ``max_seq_len`` is refused naming it, before any sampling."""
    model = SemanticLM(SemanticLMConfig(vocab_size=12, window_seconds=0.2, transformer=tcfg())).eval()  # 10 tokens
    prompt = torch.randint(0, 12, (1, 4), generator=torch.Generator().manual_seed(0))
    as_built = model.generate(prompt, 20, generator=torch.Generator().manual_seed(1))
    assert (model.window, model.hop) == (10, 5)
    model.config.window_hop_fraction = 0.2
    assert (model.window, model.hop) == (10, 2)
    smaller_hop = model.generate(prompt, 20, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(as_built, smaller_hop) and torch.equal(as_built[:, :6], smaller_hop[:, :6])
    model.config.window_seconds = 100.0
    with pytest.raises(ValueError, match="max_seq_len"):
        model.generate(prompt, 5)
