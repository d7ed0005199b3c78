import pytest
import torch

from audiolm_lib.training.data import CropSpec, InMemoryTokenCache, StageBatches, validation_batches


def _timeline_cache(seconds, semantic_rate=25.0, acoustic_rate=50.0, levels=12):
    """Items whose tokens encode their own position: semantic[i] = i, acoustic[q, f] = 1000 * f + q."""
    items = []
    for duration in seconds:
        frames = int(duration * acoustic_rate)
        items.append({
            "semantic": torch.arange(int(duration * semantic_rate)),
            "acoustic": torch.arange(frames)[None].repeat(levels, 1) * 1000 + torch.arange(levels)[:, None],
        })
    return InMemoryTokenCache(items, semantic_rate=semantic_rate, acoustic_rate=acoustic_rate, codebook_size=10**6)


def test_shapes_per_stage():
    cache = InMemoryTokenCache.random(6, 3.0)
    expected = {
        "semantic": {"semantic": (2, 100)},
        "coarse": {"semantic": (2, 100), "coarse": (2, 4, 100)},
        "fine": {"coarse": (2, 4, 100), "fine": (2, 8, 100)},
    }
    for stage, shapes in expected.items():
        batch = StageBatches(cache, CropSpec(stage, 2.0, 50.0, 50.0), batch_size=2).next_batch()
        assert {k: tuple(v.shape) for k, v in batch.items()} == shapes
        assert all(v.dtype == torch.long for v in batch.values())


def test_coarse_and_fine_crops_are_aligned_in_time():
    cache = _timeline_cache([4.0, 5.0, 6.0])
    batches = StageBatches(cache, CropSpec("coarse", 2.0, 25.0, 50.0), batch_size=3, seed=3)
    for _ in range(4):
        batch = batches.next_batch()
        frames = batch["coarse"] // 1000  # frame index of each code
        levels = batch["coarse"] % 1000
        assert torch.equal(levels[:, :, 0], torch.arange(4).expand(3, 4))  # levels 0..3
        assert torch.equal(batch["semantic"][:, 0], (frames[:, 0, 0] + 1) // 2)  # same start time at half the rate
        assert batch["semantic"].shape[-1] == 50 and frames.shape[-1] == 100
        assert torch.equal(frames[:, 0], frames[:, 0, :1] + torch.arange(100))  # contiguous window
    fine = StageBatches(cache, CropSpec("fine", 1.0, 25.0, 50.0), batch_size=2).next_batch()
    assert torch.equal(fine["fine"][:, :, 0] % 1000, torch.arange(4, 12).expand(2, 8))
    assert torch.equal(fine["fine"] // 1000, fine["coarse"][:, :1].expand(-1, 8, -1) // 1000)


def test_short_items_shorten_the_batch_or_are_skipped():
    cache = _timeline_cache([0.5, 1.5, 6.0], semantic_rate=50.0)
    batches = StageBatches(cache, CropSpec("semantic", 3.0, 50.0, 50.0, min_seconds=1.0), batch_size=2)
    assert batches.items == [1, 2]  # the 0.5 s item is skipped
    assert batches.next_batch()["semantic"].shape == (2, 75)  # cropped to the 1.5 s item
    with pytest.raises(ValueError, match="at least 10.0 s"):
        StageBatches(cache, CropSpec("semantic", 3.0, 50.0, 50.0, min_seconds=10.0), batch_size=2)


def test_epochs_visit_every_item_once_and_ranks_split_them():
    cache = _timeline_cache([2.0] * 10, semantic_rate=50.0)
    spec = CropSpec("semantic", 2.0, 50.0, 50.0)
    single = StageBatches(cache, spec, batch_size=5, seed=1)
    assert sorted(single._item_index(n) for n in range(10)) == list(range(10))
    rank0 = StageBatches(cache, spec, batch_size=5, seed=1, rank=0, world_size=2)
    rank1 = StageBatches(cache, spec, batch_size=5, seed=1, rank=1, world_size=2)
    seen0 = {rank0._item_index(n) for n in range(5)}
    seen1 = {rank1._item_index(n) for n in range(5)}
    assert not seen0 & seen1 and seen0 | seen1 == set(range(10))


def test_stream_resumes_exactly_from_its_state():
    cache = InMemoryTokenCache.random(7, [2.0, 3.0, 4.0, 2.5, 5.0, 3.5, 2.2], seed=4)
    spec = CropSpec("coarse", 1.5, 50.0, 50.0)
    reference = StageBatches(cache, spec, batch_size=3, seed=9)
    expected = [reference.next_batch() for _ in range(6)]
    first = StageBatches(cache, spec, batch_size=3, seed=9)
    got = [first.next_batch() for _ in range(2)]
    second = StageBatches(cache, spec, batch_size=3, seed=9)
    second.load_state_dict(first.state_dict())
    got += [second.next_batch() for _ in range(4)]
    for a, b in zip(expected, got):
        assert all(torch.equal(a[k], b[k]) for k in a)
    other_seed = StageBatches(cache, spec, batch_size=3, seed=10).next_batch()
    assert not torch.equal(other_seed["coarse"], expected[0]["coarse"])
    with pytest.raises(ValueError, match="usable items"):
        StageBatches(InMemoryTokenCache.random(3, 2.0), spec, batch_size=3).load_state_dict(first.state_dict())


def test_validation_batches_are_deterministic_prefixes():
    cache = _timeline_cache([3.0, 4.0, 5.0], semantic_rate=50.0)
    batches = validation_batches(cache, CropSpec("semantic", 2.0, 50.0, 50.0), batch_size=2, max_batches=2)
    assert [tuple(b["semantic"].shape) for b in batches] == [(2, 100), (1, 100)]
    assert torch.equal(batches[0]["semantic"][:, :3], torch.tensor([[0, 1, 2], [0, 1, 2]]))
