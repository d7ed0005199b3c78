import pytest
import torch

from audiolm_lib.lm.sampling import SamplingConfig, sample_logits, window_start


def test_greedy_is_argmax():
    logits = torch.randn(5, 50)
    assert torch.equal(sample_logits(logits, temperature=0), logits.argmax(-1))


def test_top_k_only_draws_from_the_k_best():
    logits = torch.randn(3, 100)
    best = logits.topk(5, dim=-1).indices
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        ids = sample_logits(logits, top_k=5, generator=gen)
        assert all(ids[b] in best[b] for b in range(3))


def test_top_p_keeps_the_nucleus():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    gen = torch.Generator().manual_seed(0)
    draws = {int(sample_logits(probs.log(), top_p=0.75, generator=gen)) for _ in range(200)}
    assert draws == {0, 1}  # 0.5 < 0.75, 0.5 + 0.3 reaches it: tokens 2 and 3 are cut


def test_sampling_matches_the_distribution():
    probs = torch.tensor([0.7, 0.2, 0.1])
    gen = torch.Generator().manual_seed(1)
    ids = sample_logits(probs.log().expand(4000, 3), generator=gen)
    freq = torch.bincount(ids, minlength=3).float() / 4000
    assert torch.allclose(freq, probs, atol=0.03)


def test_generator_reproducible():
    logits = torch.randn(2, 1000)
    a = sample_logits(logits, generator=torch.Generator().manual_seed(3))
    b = sample_logits(logits, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_invalid_parameters():
    with pytest.raises(ValueError, match="temperature"):
        SamplingConfig(temperature=-1)
    with pytest.raises(ValueError, match="top_k"):
        SamplingConfig(top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        SamplingConfig(top_p=1.5)


def test_window_start_keeps_recent_context():
    assert window_start(5, 0, 10, 5) == 0
    assert window_start(10, 0, 10, 5) == 5  # slides by the hop
    assert window_start(14, 5, 10, 5) == 5
    assert window_start(15, 5, 10, 5) == 10
    assert window_start(30, 0, 10, 10) == 30  # hop = window: consecutive windows
