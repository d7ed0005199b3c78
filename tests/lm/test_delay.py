"""Delay-pattern layout: one step per frame, level k delayed by k; the flat layout's guarantees in steps."""
import json
import math

import pytest
import torch

from audiolm_lib.lm.delay import EMPTY, DelayLayout, DelayLM, delay_window
from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig, SemanticLM, SemanticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig
from layout_contract import (
    check_cached_generation_equals_full_recompute,
    check_overfits_and_regenerates,
    check_same_seed_same_output_and_batch_equals_items,
)

K = 16


def tcfg(**kw):
    return TransformerConfig(dim=32, depth=2, heads=2, max_seq_len=256, **kw)


def semantic_lm(**kw):
    return SemanticLM(SemanticLMConfig(vocab_size=12, window_seconds=0.4, transformer=tcfg(),
                                       **{"layout": "delay", **kw})).eval()


def coarse_lm(**kw):
    return CoarseLM(CoarseLMConfig(semantic_vocab_size=12, codebook_size=K, num_coarse_quantizers=3,
                                   window_seconds=0.2, transformer=tcfg(), **{"layout": "delay", **kw})).eval()


def fine_lm(**kw):
    return FineLM(FineLMConfig(codebook_size=K, num_coarse_quantizers=2, num_fine_quantizers=3,
                               window_seconds=0.2, transformer=tcfg(), **{"layout": "delay", **kw})).eval()


def gen(seed):
    return torch.Generator().manual_seed(seed)


def naive_greedy(model, condition, prompt, total, vocab=K):
    """Greedy decoding by full recomputation, step by step: every level of a step from the same logits."""
    batch, levels, known = prompt.shape
    codes = torch.zeros(batch, levels, total, dtype=torch.long)
    codes[:, :, :known] = prompt
    with torch.no_grad():
        for step in range(known, total + levels - 1):
            logits = model.frame_logits(condition, codes)
            for level in range(levels):
                frame = step - level
                if known <= frame < total:
                    codes[:, level, frame] = logits[:, level, frame, :vocab].argmax(dim=-1)
    return codes[:, :, known:]


# --------------------------------------------------------------------------------------------- the pattern
def test_delay_grid_shifts_level_k_by_k_steps():
    layout = DelayLayout(0, 0, 3, K)
    frames = torch.arange(12).view(1, 3, 4)
    grid = layout.delay(frames, 6)
    assert grid.shape == (1, 3, 6)
    assert grid[0, 0].tolist() == [0, 1, 2, 3, EMPTY, EMPTY]
    assert grid[0, 1].tolist() == [EMPTY, 4, 5, 6, 7, EMPTY]
    assert grid[0, 2].tolist() == [EMPTY, EMPTY, 8, 9, 10, 11]
    ids = layout.step_ids(grid)  # [B, S, Q] joint ids, EMPTY -> empty_id, level offsets applied
    assert ids[0, 2].tolist() == [2, K + 5, 2 * K + 8] and ids[0, 0, 1] == layout.empty_id
    assert layout.sequence_length(5, 10) == 5 + 1 + 10 + 2


def test_window_holds_every_frame_a_step_touches():
    assert delay_window(3, 5, 0, 10, 5) == 0  # inside: kept
    assert delay_window(8, 10, 0, 10, 5) == 5  # slides by the hop
    assert delay_window(9, 11, 0, 3, 3) == 9  # hop = whole window: never past the oldest unfinished frame


# --------------------------------------------------------------------------------------------- training
def test_uses_the_delay_model_and_starts_near_ln_vocab():
    torch.manual_seed(0)
    model = fine_lm()
    assert isinstance(model.core, DelayLM)
    loss = model(torch.randint(0, K, (2, 2, 10)), torch.randint(0, K, (2, 3, 10)))
    assert loss.item() == pytest.approx(math.log(K), rel=0.05)
    per_token = model(torch.randint(0, K, (2, 2, 10)), torch.randint(0, K, (2, 3, 10)), reduction="none")
    assert per_token.shape == (2, 3, 10)


def test_future_steps_never_change_past_logits():
    torch.manual_seed(0)
    model = coarse_lm()
    sem, codes = torch.randint(0, 12, (1, 9)), torch.randint(0, K, (1, 3, 9))
    with torch.no_grad():
        base = model.frame_logits(sem, codes)
        changed_codes = codes.clone()
        changed_codes[:, 1, 4] = (codes[:, 1, 4] + 1) % K  # step 5
        changed = model.frame_logits(sem, changed_codes)
    level = torch.arange(3)[:, None]
    frame = torch.arange(9)[None]
    step = (level + frame).expand(3, 9)
    same = (changed - base).abs().amax(dim=-1)[0]  # [Q, F]
    assert same[step <= 5].max() < 1e-5  # steps up to 5 are predicted before step 5 is seen
    assert same[step > 5].min() > 0  # every later step sees it (attention is dense)


def test_reductions_and_right_padding():
    torch.manual_seed(0)
    model = coarse_lm()
    sem, codes = torch.randint(0, 12, (2, 8)), torch.randint(0, K, (2, 3, 8))
    per_token = model(sem, codes, reduction="none")
    torch.testing.assert_close(model(sem, codes, reduction="level"), per_token.mean(dim=(0, 2)))
    torch.testing.assert_close(model(sem, codes), per_token.mean())
    padded = codes.clone()
    padded[:, :, 6:] = -1  # padding shifts into later steps only: tokens of steps < 6 keep their losses
    losses = model(sem, padded, reduction="none")
    early = (torch.arange(3)[:, None] + torch.arange(6)[None]) < 6
    torch.testing.assert_close(losses[:, :, :6][:, early], per_token[:, :, :6][:, early])
    assert (losses[:, :, 6:] == 0).all()


@pytest.mark.parametrize("stage", ["coarse", "fine", "semantic"])
def test_cached_generation_equals_full_recompute(stage):
    check_cached_generation_equals_full_recompute(stage, semantic_lm, coarse_lm, fine_lm, naive_greedy, K)


def test_tiny_model_overfits_a_short_clip():
    check_overfits_and_regenerates(fine_lm, K, frames=8)


# --------------------------------------------------------------------------------------------- sampling
def test_codes_in_range_every_code_reachable_and_windows_slide():
    model = coarse_lm()  # window 10, hop 5
    out = model.generate(torch.randint(0, 12, (6, 40)), None, 40, temperature=5.0, generator=gen(0))
    assert out.shape == (6, 3, 40) and out.min() >= 0 and out.max() < K
    for level in range(3):
        assert set(out[:, level].flatten().tolist()) == set(range(K))
    fine = fine_lm()  # hop = whole window: the window never drops a frame that still owes levels
    out = fine.generate(torch.randint(0, K, (2, 2, 25)), torch.randint(0, K, (2, 3, 3)), generator=gen(1))
    assert out.shape == (2, 3, 22) and out.min() >= 0 and out.max() < K


def test_window_too_short_for_the_levels_is_named():
    model = FineLM(FineLMConfig(codebook_size=K, num_coarse_quantizers=2, num_fine_quantizers=3,
                                window_seconds=0.04, transformer=tcfg(), layout="delay"))
    with pytest.raises(ValueError, match="window of at least 3 frames"):
        model.generate(torch.randint(0, K, (1, 2, 5)), None)


def test_same_seed_same_output_and_batch_equals_items():
    check_same_seed_same_output_and_batch_equals_items(coarse_lm, fine_lm, K)


def test_semantic_eos_stops_generation():
    model = semantic_lm()
    with torch.no_grad():
        model.core.transformer.norm.bias.fill_(1.0)
        model.core.head[0, 12].fill_(100.0)
    out = model.generate(torch.randint(0, 12, (2, 4)), 10, temperature=0, stop_at_eos=True)
    assert out.shape == (2, 10) and (out == -1).all()
    out = model.generate(torch.randint(0, 12, (2, 4)), 10, generator=gen(0))
    assert out.min() >= 0 and out.max() < 12


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = coarse_lm()
    model.save_pretrained(tmp_path / "coarse")
    assert json.loads((tmp_path / "coarse" / "config.json").read_text())["config"]["layout"] == "delay"
    loaded = CoarseLM.from_pretrained(tmp_path / "coarse").eval()
    assert isinstance(loaded.core, DelayLM)
    sem = torch.randint(0, 12, (1, 12))
    assert torch.equal(model.generate(sem, None, 12, generator=gen(3)), loaded.generate(sem, None, 12, generator=gen(3)))


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["multiscale", "delay"])
def test_audiolm_runs_unchanged_with_the_layout(layout, tmp_path):
    from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
    from audiolm_lib.pipeline import AudioLM
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer

    torch.manual_seed(0)
    shape = TransformerConfig(dim=32, depth=1, heads=2, max_seq_len=512)
    tokenizer = SemanticTokenizer.mfcc(torch.randn(16, 39))
    codec = SoundStream(SoundStreamConfig(channels=4, latent_dim=16, num_quantizers=4, codebook_size=32))
    model = AudioLM(
        tokenizer, codec,
        SemanticLM(SemanticLMConfig(vocab_size=16, window_seconds=2.0, transformer=shape, layout=layout)),
        CoarseLM(CoarseLMConfig(semantic_vocab_size=16, codebook_size=32, num_coarse_quantizers=2,
                                window_seconds=1.0, transformer=shape, layout=layout)),
        FineLM(FineLMConfig(codebook_size=32, num_coarse_quantizers=2, num_fine_quantizers=2,
                            window_seconds=0.5, transformer=shape, layout=layout)),
    ).eval()
    prompt = torch.sin(torch.arange(8000) * 2 * math.pi * 330 / 16000)[None]
    wave, tokens = model.continue_audio(prompt, seconds=0.4, sample_rate=16000, return_tokens=True,
                                        generator=gen(1))
    assert tokens["codes"].shape == (1, 4, 45) and wave.shape == (1, 1, 20 * codec.hop_length)
    assert 0 <= tokens["codes"].min() and tokens["codes"].max() < 32
    model.save_pretrained(tmp_path / "model")
    loaded = AudioLM.from_pretrained(tmp_path / "model")
    again = loaded.continue_audio(prompt, seconds=0.4, sample_rate=16000, generator=gen(1))
    torch.testing.assert_close(again, wave)


def test_sampling_ignores_dropout_of_a_model_in_training_mode():
    torch.manual_seed(0)
    model = CoarseLM(CoarseLMConfig(semantic_vocab_size=12, codebook_size=K, num_coarse_quantizers=3,
                                    window_seconds=0.2, transformer=tcfg(dropout=0.3), layout="delay"))
    sem = torch.randint(0, 12, (2, 8))
    trained = model.train().generate(sem, None, 8, temperature=0)
    assert model.training
    assert torch.equal(trained, model.eval().generate(sem, None, 8, temperature=0))
