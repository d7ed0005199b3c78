import math

import pytest
import torch

from audiolm_lib.eval.baselines import stage_baselines, unigram_cross_entropy
from audiolm_lib.training.data import InMemoryTokenCache


def test_unigram_beats_uniform_on_skewed_tokens_and_matches_by_hand():
    train = [torch.tensor([0, 0, 0, 1])]
    valid = [torch.tensor([0, 1])]
    # add-one smoothing over 4 ids: p(0) = 4/8, p(1) = 2/8
    expected = -(math.log(4 / 8) + math.log(2 / 8)) / 2
    assert unigram_cross_entropy(train, valid, 4) == pytest.approx(expected)
    assert unigram_cross_entropy(train, valid, 4) < math.log(4)
    # on uniform tokens the unigram is no better than the uniform guess
    flat = [torch.arange(4).repeat(100)]
    assert unigram_cross_entropy(flat, flat, 4) == pytest.approx(math.log(4), abs=1e-3)
    with pytest.raises(ValueError, match="lie in"):
        unigram_cross_entropy(train, [torch.tensor([7])], 4)


def test_stage_baselines_on_a_cache():
    cache = InMemoryTokenCache.random(8, 2.0, num_quantizers=6, semantic_vocab_size=32, codebook_size=64, valid_items=2)
    result = stage_baselines(cache, num_coarse=2, num_fine=4)
    assert set(result) == {"semantic", "coarse", "fine"}
    assert result["semantic"]["uniform"] == pytest.approx(math.log(32))
    assert result["fine"]["uniform"] == pytest.approx(math.log(64))
    # random tokens: a unigram fitted on few tokens is worse than uniform on new ones
    for row in result.values():
        assert row["unigram"] > 0.9 * row["uniform"]
