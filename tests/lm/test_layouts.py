import pytest
import torch

from audiolm_lib.lm.layouts import FlatLayout, build_layout


def test_vocabulary_ranges_never_collide():
    layout = FlatLayout(condition_levels=2, condition_vocab=7, target_levels=3, target_vocab=5)
    ranges = [(q * 7, q * 7 + 7) for q in range(2)] + [(o, o + 5) for o in layout.target_offsets]
    ids = set()
    for start, stop in ranges:
        block = set(range(start, stop))
        assert not ids & block
        ids |= block
    assert layout.sep_id not in ids and layout.pad_id not in ids and layout.sep_id != layout.pad_id
    assert layout.vocab_size == len(ids) + 2


def test_sequence_is_condition_sep_targets_frame_major():
    layout = FlatLayout(condition_levels=2, condition_vocab=10, target_levels=2, target_vocab=4)
    cond = torch.tensor([[[1, 2], [3, 4]]])  # [B=1, levels=2, frames=2]
    targets = torch.tensor([[[0, 1], [2, -1]]])
    seq = layout.sequence(cond, targets)
    t0, t1 = layout.target_offsets
    expected = [1, 10 + 3, 2, 10 + 4, layout.sep_id, t0 + 0, t1 + 2, t0 + 1, layout.pad_id]
    assert seq.tolist() == [expected]
    assert layout.target_positions(4, 2) == slice(4, 8)
    assert layout.sequence_length(2, 2) == seq.shape[1]


def test_eos_follows_the_last_level_and_unknown_layout_fails():
    layout = FlatLayout(0, 0, 1, 9, with_eos=True)
    assert layout.eos_id == layout.target_offsets[0] + 9
    assert layout.head_rows(0) == (0, 10)
    with pytest.raises(ValueError, match="unknown token layout"):
        build_layout("spiral", condition_levels=0, condition_vocab=0, target_levels=1, target_vocab=3)
