"""Multi-scale (global/local) layout: the flat layout's guarantees, with one global position per frame."""
import json
import math

import pytest
import torch

from audiolm_lib.lm.multiscale import MultiScaleLM
from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig, SemanticLM, SemanticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig
from layout_contract import (
    check_cached_generation_equals_full_recompute,
    check_overfits_and_regenerates,
    check_same_seed_same_output_and_batch_equals_items,
)

K = 16  # codebook size of the tiny models


def tcfg(**kw):
    return TransformerConfig(dim=32, depth=2, heads=2, max_seq_len=256, **kw)


def local_cfg():
    return TransformerConfig(dim=24, depth=1, heads=2, max_seq_len=8)


def semantic_lm(**kw):
    return SemanticLM(SemanticLMConfig(vocab_size=12, window_seconds=0.4, transformer=tcfg(),
                                       **{"layout": "multiscale", **kw})).eval()


def coarse_lm(**kw):
    return CoarseLM(CoarseLMConfig(semantic_vocab_size=12, codebook_size=K, num_coarse_quantizers=3,
                                   window_seconds=0.2, transformer=tcfg(),
                                   **{"layout": "multiscale", "local_transformer": local_cfg(), **kw})).eval()


def fine_lm(**kw):
    return FineLM(FineLMConfig(codebook_size=K, num_coarse_quantizers=2, num_fine_quantizers=3,
                               window_seconds=0.2, transformer=tcfg(),
                               **{"layout": "multiscale", "local_transformer": local_cfg(), **kw})).eval()


def gen(seed):
    return torch.Generator().manual_seed(seed)


def naive_greedy(model, condition, prompt, total, vocab=K):
    """Greedy decoding by full recomputation: argmax of the teacher-forced logits, frame by frame, level by level."""
    batch, levels, known = prompt.shape
    codes = torch.zeros(batch, levels, total, dtype=torch.long)
    codes[:, :, :known] = prompt
    with torch.no_grad():
        for frame in range(known, total):
            for level in range(levels):
                logits = model.frame_logits(condition, codes)[:, level, frame, :vocab]
                codes[:, level, frame] = logits.argmax(dim=-1)
    return codes[:, :, known:]


# --------------------------------------------------------------------------------------------- training
def test_uses_the_multiscale_model_and_starts_near_ln_vocab():
    torch.manual_seed(0)
    model = fine_lm()
    assert isinstance(model.core, MultiScaleLM) and model.core.local.config.dim == 24
    coarse, fine = torch.randint(0, K, (2, 2, 10)), torch.randint(0, K, (2, 3, 10))
    assert model(coarse, fine).item() == pytest.approx(math.log(K), rel=0.05)
    sem = semantic_lm()  # one level + EOS: the local model is a single step
    assert sem(torch.randint(0, 12, (2, 15)), eos=True).item() == pytest.approx(math.log(13), rel=0.05)


def test_reductions_and_right_padding():
    torch.manual_seed(0)
    model = coarse_lm()
    sem, codes = torch.randint(0, 12, (2, 8)), torch.randint(0, K, (2, 3, 8))
    per_token = model(sem, codes, reduction="none")
    assert per_token.shape == (2, 3, 8)
    torch.testing.assert_close(model(sem, codes, reduction="level"), per_token.mean(dim=(0, 2)))
    torch.testing.assert_close(model(sem, codes), per_token.mean())
    padded = codes.clone()
    padded[:, :, 6:] = -1  # right padding of targets: earlier losses unchanged, padding excluded
    torch.testing.assert_close(model(sem, padded), per_token[:, :, :6].mean(), atol=1e-5, rtol=0)


def test_future_never_changes_past_logits():
    torch.manual_seed(0)
    model = fine_lm()
    coarse, fine = torch.randint(0, K, (1, 2, 9)), torch.randint(0, K, (1, 3, 9))
    with torch.no_grad():
        base = model.frame_logits(coarse, fine)
        later_frames = fine.clone()
        later_frames[:, :, 5:] = (fine[:, :, 5:] + 1) % K
        changed = model.frame_logits(coarse, later_frames)
        torch.testing.assert_close(changed[:, :, :5], base[:, :, :5])
        torch.testing.assert_close(changed[:, 0, 5], base[:, 0, 5])  # level 0 of frame 5 only sees frames < 5
        assert not torch.allclose(changed[:, 1:, 5], base[:, 1:, 5])  # upper levels see frame 5's lower ones
        assert not torch.allclose(changed[:, :, 6:], base[:, :, 6:])
        upper_level = fine.clone()
        upper_level[:, 1, 4] = (fine[:, 1, 4] + 1) % K  # level 1 of frame 4: levels 0..1 of frame 4 unaffected
        changed = model.frame_logits(coarse, upper_level)
        torch.testing.assert_close(changed[:, :2, :5], base[:, :2, :5])
        torch.testing.assert_close(changed[:, :, :4], base[:, :, :4])
        assert not torch.allclose(changed[:, 2, 4], base[:, 2, 4])


def test_training_loss_has_gradients_for_both_models():
    model = coarse_lm().train()
    model(torch.randint(0, 12, (2, 8)), torch.randint(0, K, (2, 3, 8))).backward()
    for name in ("transformer.blocks.0.qkv.weight", "local.blocks.0.qkv.weight", "local_head", "embedding.weight"):
        grad = dict(model.core.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


@pytest.mark.parametrize("stage", ["coarse", "fine", "semantic"])
def test_cached_generation_equals_full_recompute(stage):
    check_cached_generation_equals_full_recompute(stage, semantic_lm, coarse_lm, fine_lm, naive_greedy, K)


def test_tiny_model_overfits_a_short_clip():
    check_overfits_and_regenerates(fine_lm, K, frames=8)


# --------------------------------------------------------------------------------------------- sampling
def test_codes_in_range_every_code_reachable_and_windows_slide():
    model = coarse_lm()  # window 10 frames, hop 5: 40 frames re-encode the window several times
    sem = torch.randint(0, 12, (6, 40))
    out = model.generate(sem, None, 40, temperature=5.0, generator=gen(0))
    assert out.shape == (6, 3, 40) and out.min() >= 0 and out.max() < K
    for level in range(3):
        assert set(out[:, level].flatten().tolist()) == set(range(K))
    fine = fine_lm().generate(torch.randint(0, K, (2, 2, 25)), None, generator=gen(1))
    assert fine.shape == (2, 3, 25) and fine.min() >= 0 and fine.max() < K


def test_long_generation_uses_only_recent_context():
    model = coarse_lm()
    with torch.no_grad():  # peaky distributions, so a change of context visibly changes the samples
        model.core.local_head.mul_(50)
    sem, prompt = torch.randint(0, 12, (1, 60)), torch.randint(0, K, (1, 3, 30))
    other_prompt, other_sem = prompt.clone(), sem.clone()
    other_prompt[:, :, :20] = torch.randint(0, K, (1, 3, 20))  # differs only before the window
    other_sem[:, :20] = torch.randint(0, 12, (1, 20))
    a = model.generate(sem, prompt, 30, generator=gen(1))
    assert torch.equal(a, model.generate(other_sem, other_prompt, 30, generator=gen(1)))
    other_prompt[:, :, 25] = (prompt[:, :, 25] + 1) % K  # inside the window: output changes
    assert not torch.equal(a, model.generate(sem, other_prompt, 30, generator=gen(1)))


def test_same_seed_same_output_and_batch_equals_items():
    check_same_seed_same_output_and_batch_equals_items(coarse_lm, fine_lm, K)


def test_semantic_eos_stops_generation():
    model = semantic_lm()
    with torch.no_grad():  # LayerNorm output has zero mean: bias + a constant EOS row makes EOS certain
        model.core.local.norm.bias.fill_(1.0)
        model.core.local_head[0, 12].fill_(100.0)
    out = model.generate(torch.randint(0, 12, (2, 4)), 10, temperature=0, stop_at_eos=True)
    assert out.shape == (2, 10) and (out == -1).all()
    out = model.generate(torch.randint(0, 12, (2, 4)), 10, generator=gen(0))  # without stop_at_eos: never EOS
    assert out.min() >= 0 and out.max() < 12


# --------------------------------------------------------------------------------------------- checkpoints
def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = fine_lm()
    model.save_pretrained(tmp_path / "fine")
    config = json.loads((tmp_path / "fine" / "config.json").read_text())["config"]
    assert config["layout"] == "multiscale" and config["local_transformer"]["dim"] == 24
    loaded = FineLM.from_pretrained(tmp_path / "fine").eval()
    assert isinstance(loaded.core, MultiScaleLM)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    coarse = torch.randint(0, K, (1, 2, 12))
    assert torch.equal(model.generate(coarse, None, generator=gen(3)), loaded.generate(coarse, None, generator=gen(3)))


def test_bad_configurations_are_named():
    with pytest.raises(ValueError, match="tie_embeddings is only supported with the flat layout"):
        coarse_lm(tie_embeddings=True)
    with pytest.raises(ValueError, match="local_transformer.max_seq_len=2"):
        coarse_lm(local_transformer=TransformerConfig(dim=16, depth=1, heads=2, max_seq_len=2))
    with pytest.raises(ValueError, match="unknown token layout 'diagonal'"):
        coarse_lm(layout="diagonal")


def test_sampling_ignores_dropout_of_a_model_in_training_mode():
    torch.manual_seed(0)
    model = CoarseLM(CoarseLMConfig(semantic_vocab_size=12, codebook_size=K, num_coarse_quantizers=3,
                                    window_seconds=0.2, transformer=tcfg(dropout=0.3), layout="multiscale",
                                    local_transformer=TransformerConfig(dim=24, depth=1, heads=2, max_seq_len=8,
                                                                        dropout=0.3)))
    sem = torch.randint(0, 12, (2, 8))
    trained = model.train().generate(sem, None, 8, temperature=0)
    assert model.training  # restored afterwards
    assert torch.equal(trained, model.eval().generate(sem, None, 8, temperature=0))
