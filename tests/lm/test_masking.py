"""SoundStorm's training mask and MaskGIT's decoding schedule (audiolm_lib.lm.masking)."""
import math

import pytest
import torch

from audiolm_lib.lm.masking import remaining_masked, reveal_schedule, training_mask


def test_training_mask_levels_prompt_and_scored_positions():
    batch, levels, frames = 400, 4, 20
    mask = training_mask(batch, levels, frames, generator=torch.Generator().manual_seed(0))
    assert mask.masked.shape == (batch, levels, frames) and mask.scored.shape == (batch, frames)
    position = torch.arange(frames)
    for b in range(batch):
        q, t = int(mask.level[b]), int(mask.prompt_frames[b])
        free = position >= t
        assert 0 <= t < frames
        assert not mask.masked[b, :, :t].any()  # the acoustic prompt is never masked
        assert not mask.masked[b, :q].any()  # levels below the chosen one are given
        assert torch.equal(mask.masked[b, q], mask.scored[b])  # level q: masked exactly where scored
        assert torch.equal(mask.masked[b, q + 1 :], free.expand(levels - q - 1, -1))  # above: all non-prompt
        count = int(mask.scored[b].sum())
        assert count == max(1, round(float(mask.ratio[b]) * (frames - t)))
        assert not mask.scored[b, :t].any()


def test_training_mask_distributions_follow_the_paper():
    mask = training_mask(20000, 4, 50, generator=torch.Generator().manual_seed(1))
    # ratio = cos(u), u ~ U[0, pi/2): mean 2/pi; level and prompt delimiter uniform
    assert abs(mask.ratio.mean().item() - 2 / math.pi) < 0.01
    assert mask.ratio.min() >= 0 and mask.ratio.max() <= 1
    counts = torch.bincount(mask.level, minlength=4).float() / 20000
    assert torch.allclose(counts, torch.full((4,), 0.25), atol=0.02)
    assert abs(mask.prompt_frames.float().mean().item() - 24.5) < 0.5
    # the share of non-prompt frames scored follows the ratio
    free = 50 - mask.prompt_frames
    share = mask.scored.sum(1).float() / free
    assert abs(share.mean().item() - 2 / math.pi) < 0.02


def test_training_mask_is_reproducible_and_prompt_can_be_off():
    a = training_mask(8, 3, 10, generator=torch.Generator().manual_seed(5))
    b = training_mask(8, 3, 10, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.masked, b.masked) and torch.equal(a.level, b.level)
    c = training_mask(8, 3, 10, generator=torch.Generator().manual_seed(5), prompt=False)
    assert (c.prompt_frames == 0).all()
    with pytest.raises(ValueError, match="frames"):
        training_mask(2, 3, 0)


def test_decoding_schedule_is_cosine_and_reveals_everything():
    total, iterations = 100, 16
    left = [remaining_masked(total, i, iterations) for i in range(iterations)]
    assert left[-1] == 0
    assert all(a > b for a, b in zip([total] + left, left))  # every iteration reveals at least one frame
    for i in range(iterations - 1):
        assert left[i] == min(math.floor(total * math.cos(math.pi / 2 * (i + 1) / iterations)), total - i - 1)
    assert sum(reveal_schedule(total, iterations)) == total
    assert reveal_schedule(7, 1) == [7]  # one iteration: all at once (levels > 1 in the paper)
    assert sum(reveal_schedule(3, 16)) == 3 and reveal_schedule(3, 16)[:3] == [1, 1, 1]
    with pytest.raises(ValueError):
        remaining_masked(10, 4, 4)


def test_prompt_dropout_zero_is_the_mask_of_before():
    """The mask the library drew before guidance training existed (same seed), value by value."""
    mask = training_mask(3, 3, 6, generator=torch.Generator().manual_seed(5))
    assert mask.masked.int().tolist() == [
        [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]],
        [[0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]],
        [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 1]]]
    assert mask.scored.int().tolist() == [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]]
    assert mask.level.tolist() == [2, 0, 1] and mask.prompt_frames.tolist() == [3, 2, 4]
    assert torch.allclose(mask.ratio, torch.tensor([0.966845, 0.400145, 0.998635]), atol=1e-6)
    assert mask.prompt_dropped is None
    same = training_mask(3, 3, 6, generator=torch.Generator().manual_seed(5), prompt_dropout=0.0)
    assert torch.equal(same.masked, mask.masked) and same.prompt_dropped is None


def test_prompt_dropout_masks_the_whole_prompt_of_a_share_of_examples():
    plain = training_mask(4000, 3, 12, generator=torch.Generator().manual_seed(2))
    drop = training_mask(4000, 3, 12, generator=torch.Generator().manual_seed(2), prompt_dropout=0.3)
    for name in ("scored", "level", "prompt_frames", "ratio"):  # only the prompt's masking changes
        assert torch.equal(getattr(drop, name), getattr(plain, name)), name
    assert abs(drop.prompt_dropped.float().mean().item() - 0.3) < 0.03
    prompt = torch.arange(12)[None] < plain.prompt_frames[:, None]  # [B, T]
    expected = plain.masked | (drop.prompt_dropped[:, None] & prompt)[:, None]
    assert torch.equal(drop.masked, expected)
    assert not (drop.masked & prompt[:, None])[~drop.prompt_dropped].any()  # the others keep their prompt
    everything = training_mask(50, 3, 12, generator=torch.Generator().manual_seed(2), prompt_dropout=1.0)
    below_top = everything.level < 2
    assert everything.prompt_dropped.all() and everything.masked[below_top, 2].all()  # top level: all masked
    with pytest.raises(ValueError, match="prompt_dropout"):
        training_mask(2, 3, 4, prompt_dropout=1.5)
