"""Block expansion: a deepened model computes what the trained one did, its new blocks train, bad depths are refused."""
import pytest
import torch

from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig
from audiolm_lib.training.deepen import deepened, expansion_plan


def _model(depth: int = 2) -> ParallelAcousticLM:
    torch.manual_seed(0)
    return ParallelAcousticLM(ParallelAcousticLMConfig(
        semantic_vocab_size=16, codebook_size=32, num_quantizers=3, window_seconds=1.0, generated_levels=2,
        transformer=TransformerConfig(dim=32, depth=depth, heads=4, max_seq_len=128, dropout=0.0)))


def test_new_blocks_are_spread_evenly_after_old_ones():
    assert expansion_plan(4, 6) == [0, 1, None, 2, 3, None]
    assert expansion_plan(2, 4) == [0, None, 1, None]
    assert expansion_plan(3, 3) == [0, 1, 2]
    assert expansion_plan(3, 4) == [0, 1, 2, None]
    for depth, new_depth in [(1, 5), (4, 7), (5, 6)]:
        plan = expansion_plan(depth, new_depth)
        assert len(plan) == new_depth and [b for b in plan if b is not None] == list(range(depth))
        assert plan[0] == 0  # a new block always follows an old one (it is that block's copy)
    with pytest.raises(ValueError, match="more blocks"):
        expansion_plan(4, 3)


def test_the_deepened_model_computes_the_same_and_keeps_its_provenance():
    model = _model(2).eval()
    model.trained_on = {"codec": {"weights_sha1": "abc"}}
    grown = deepened(model, 4).eval()
    assert grown.config.transformer.depth == 4 and len(grown.transformer.blocks) == 4
    assert model.config.transformer.depth == 2  # the original is left as it was
    assert grown.trained_on == model.trained_on
    semantic, codes = torch.randint(0, 16, (2, 40)), torch.randint(0, 32, (2, 3, 40))
    with torch.no_grad():
        assert torch.allclose(grown.level_cross_entropy(semantic, codes, 10),
                              model.level_cross_entropy(semantic, codes, 10), atol=1e-5)
        assert torch.allclose(grown.hidden(semantic, codes), model.hidden(semantic, codes), atol=1e-5)
    # the old blocks are where the plan puts them; a new one is its predecessor's copy with zero output projections
    assert torch.equal(grown.transformer.blocks[2].qkv.weight, model.transformer.blocks[1].qkv.weight)
    new = grown.transformer.blocks[1]
    assert torch.equal(new.qkv.weight, model.transformer.blocks[0].qkv.weight)
    assert not new.out.weight.any() and not new.ff_out.weight.any() and not new.ff_out.bias.any()


def test_the_new_blocks_learn():
    grown = deepened(_model(1), 2).train()
    semantic, codes = torch.randint(0, 16, (2, 40)), torch.randint(0, 32, (2, 3, 40))
    grown.hidden(semantic, codes).square().mean().backward()
    new = grown.transformer.blocks[1]
    assert new.out.weight.grad.abs().sum() > 0 and new.ff_out.weight.grad.abs().sum() > 0


def test_a_model_without_a_configured_transformer_is_refused():
    with pytest.raises(TypeError, match="Transformer"):
        deepened(torch.nn.Linear(2, 2), 3)


def test_a_causal_stage_deepens_too():
    from audiolm_lib.lm.stages import SemanticLM, SemanticLMConfig

    torch.manual_seed(0)
    model = SemanticLM(SemanticLMConfig(vocab_size=20, window_seconds=1.0, layout="flat",
                                        transformer=TransformerConfig(dim=32, depth=2, heads=4, max_seq_len=64))).eval()
    grown = deepened(model, 3).eval()
    tokens = torch.randint(0, 20, (2, 30))
    with torch.no_grad():
        ours, theirs = grown(tokens), model(tokens)
    ours, theirs = (ours[0], theirs[0]) if isinstance(ours, tuple) else (ours, theirs)
    assert len(grown.transformer.blocks) == 3 and torch.allclose(ours, theirs, atol=1e-5)
