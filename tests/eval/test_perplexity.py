import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from audiolm_lib.eval.perplexity import stage_perplexity


class TinyNextTokenLM(nn.Module):
    """forward(tokens[B, S]) -> mean next-token cross-entropy, like a stage's forward."""

    def __init__(self, vocab=7, dim=8, dropout=0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(dim, vocab)

    def forward(self, tokens):
        logits = self.head(self.drop(self.embed(tokens[:, :-1])))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


class UniformLM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab

    def forward(self, semantic, coarse):  # two inputs, as CoarseLM takes
        logits = torch.zeros(coarse.numel(), self.vocab)
        return F.cross_entropy(logits, coarse.reshape(-1))


def test_matches_reference_mean_over_batches():
    model = TinyNextTokenLM()
    batches = [torch.randint(0, 7, (2, 9)) for _ in range(3)]
    with torch.no_grad():
        expected = sum(model(b).item() for b in batches) / 3
    result = stage_perplexity(model, batches)
    assert result["loss"] == pytest.approx(expected, rel=1e-6)
    assert result["perplexity"] == pytest.approx(math.exp(expected), rel=1e-6)
    assert result["num_batches"] == 3 and "num_tokens" not in result


def test_uniform_predictor_has_perplexity_equal_to_vocab_size():
    batches = [(torch.zeros(2, 5, dtype=torch.long), torch.randint(0, 11, (2, 4, 6))) for _ in range(2)]
    result = stage_perplexity(UniformLM(11), batches)
    assert result["perplexity"] == pytest.approx(11.0, rel=1e-6)  # float32 cross-entropy


def test_token_weighted_mean_and_mapping_batches():
    def loss_fn(loss, num_tokens):
        return torch.tensor(loss), num_tokens

    batches = [{"loss": 1.0, "num_tokens": 30}, {"loss": 4.0, "num_tokens": 10}]
    result = stage_perplexity(loss_fn, batches)
    assert result["loss"] == pytest.approx((1.0 * 30 + 4.0 * 10) / 40)
    assert result["num_tokens"] == 40

    result = stage_perplexity(lambda x: {"loss": x.float().mean()}, [torch.tensor([2, 4]), torch.tensor([0])], max_batches=1)
    assert result["loss"] == pytest.approx(3.0) and result["num_batches"] == 1


def test_eval_mode_during_measurement_and_restored_after():
    model = TinyNextTokenLM(dropout=0.5)
    model.train()
    batches = [torch.randint(0, 7, (4, 12))]
    first = stage_perplexity(model, batches)["loss"]
    second = stage_perplexity(model, batches)["loss"]
    assert first == second  # dropout was off
    assert model.training


def test_errors_are_clear():
    with pytest.raises(ValueError, match="no validation batches"):
        stage_perplexity(TinyNextTokenLM(), [])
    with pytest.raises(ValueError, match="non-finite"):
        stage_perplexity(lambda x: torch.tensor(float("nan")), [torch.zeros(1)])
    with pytest.raises(ValueError, match="scalar"):
        stage_perplexity(lambda x: torch.zeros(3), [torch.zeros(1)])


def test_with_the_library_stages():
    """A real tiny SemanticLM / CoarseLM: the result is their own mean cross-entropy."""
    stages = pytest.importorskip("audiolm_lib.lm.stages")
    from audiolm_lib.lm.transformer import TransformerConfig

    tiny = TransformerConfig(dim=16, depth=1, heads=2, max_seq_len=256)
    semantic_lm = stages.SemanticLM(stages.SemanticLMConfig(vocab_size=9, window_seconds=0.4, transformer=tiny))
    coarse_lm = stages.CoarseLM(stages.CoarseLMConfig(
        semantic_vocab_size=9, codebook_size=8, num_coarse_quantizers=2, window_seconds=0.2, transformer=tiny))
    semantic = torch.randint(0, 9, (2, 10))
    coarse = torch.randint(0, 8, (2, 2, 10))
    with torch.no_grad():
        expected_semantic = semantic_lm(semantic).item()
        expected_coarse = coarse_lm(semantic, coarse).item()
    assert stage_perplexity(semantic_lm, [semantic])["loss"] == pytest.approx(expected_semantic, rel=1e-6)
    result = stage_perplexity(coarse_lm, [(semantic, coarse)])
    assert result["loss"] == pytest.approx(expected_coarse, rel=1e-6)
    assert 1 < result["perplexity"] < 8 * 3  # untrained: near the codebook size
