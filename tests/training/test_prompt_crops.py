"""Prompts from another segment of the same item (audiolm_lib.training.prompt_crops) and their training mask."""
import pytest
import torch

from audiolm_lib.lm.masking import training_mask
from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig
from audiolm_lib.training.config import StageTrainConfig
from audiolm_lib.training.data import CropSpec, InMemoryTokenCache, StageBatches
from audiolm_lib.training.prompt_crops import elsewhere_example, speaker_example


def _timeline_cache(seconds, semantic_rate=25.0, acoustic_rate=50.0, levels=3):
    """Items whose tokens encode their own position: semantic[i] = i, acoustic[q, f] = 1000 * f + q."""
    items = [{"semantic": torch.arange(int(d * semantic_rate)),
              "acoustic": torch.arange(int(d * acoustic_rate))[None].repeat(levels, 1) * 1000
              + torch.arange(levels)[:, None]} for d in seconds]
    return InMemoryTokenCache(items, semantic_rate=semantic_rate, acoustic_rate=acoustic_rate, codebook_size=10**6)


def _spec(share, seconds=1.0, semantic_rate=25.0):
    return CropSpec("parallel", seconds, semantic_rate, 50.0, num_coarse=3, num_fine=0, prompt_elsewhere=share)


def test_elsewhere_prompt_and_target_are_disjoint_stretches_of_the_item():
    cache = _timeline_cache([3.0])
    spec = _spec(1.0)
    orders = set()
    for seed in range(40):
        example, prompt = elsewhere_example(cache[0], spec, 1.0, torch.Generator().manual_seed(seed))
        frames = example["codes"][0] // 1000  # frame index of each code
        assert example["codes"].shape == (3, 50) and example["semantic"].shape == (25,) and 1 <= prompt < 50
        head, tail = frames[:prompt], frames[prompt:]
        assert torch.equal(head, torch.arange(int(head[0]), int(head[0]) + prompt))  # each part is one stretch
        assert torch.equal(tail, torch.arange(int(tail[0]), int(tail[0]) + 50 - prompt))
        assert not set(head.tolist()) & set(tail.tolist())  # ... and they do not overlap
        orders.add(bool(head[0] < tail[0]))
        # semantic tokens follow their frames (25 Hz: frame f <-> token f // 2), up to a token at the seam
        aligned = example["semantic"][torch.arange(50) // 2]
        assert (aligned - frames // 2).abs().le(1).float().mean() > 0.9
    assert orders == {True, False}  # the prompt comes from before and from after the target
    assert elsewhere_example(cache[0], spec, 0.02, torch.Generator()) is None  # one frame: nothing to split


def test_share_zero_is_the_stream_of_before_and_a_share_replaces_only_some_examples():
    cache = _timeline_cache([3.0, 4.0, 2.5, 5.0])
    plain = StageBatches(cache, _spec(0.0), batch_size=4, seed=1)
    mixed = StageBatches(cache, _spec(0.5), batch_size=4, seed=1)
    replaced = 0
    for _ in range(10):
        a, b = plain.next_batch(), mixed.next_batch()
        assert set(a) == {"semantic", "codes"} and set(b) == {"semantic", "codes", "prompt_frames"}
        assert a["codes"].shape == b["codes"].shape and a["semantic"].shape == b["semantic"].shape
        kept = b["prompt_frames"] < 0
        assert torch.equal(a["codes"][kept], b["codes"][kept]) and torch.equal(a["semantic"][kept], b["semantic"][kept])
        replaced += int((~kept).sum())
        assert not torch.equal(a["codes"][~kept], b["codes"][~kept]) or not (~kept).any()
    assert 8 <= replaced <= 32  # about half of 40
    with pytest.raises(ValueError, match="prompt_elsewhere"):
        CropSpec("coarse", 1.0, 25.0, 50.0, prompt_elsewhere=0.5)
    with pytest.raises(ValueError, match="prompt_elsewhere"):
        StageTrainConfig(stage="semantic", prompt_elsewhere=0.5)


def test_given_prompt_frames_set_the_mask_delimiter_and_the_model_trains_on_the_batch():
    drawn = training_mask(4, 3, 10, generator=torch.Generator().manual_seed(0))
    given = training_mask(4, 3, 10, generator=torch.Generator().manual_seed(0),
                          prompt_frames=torch.tensor([-1, 7, -1, 2]))
    assert given.prompt_frames.tolist() == [int(drawn.prompt_frames[0]), 7, int(drawn.prompt_frames[2]), 2]
    assert torch.equal(given.level, drawn.level) and torch.equal(given.ratio, drawn.ratio)
    assert not given.masked[1, :, :7].any() and not given.masked[3, :, :2].any()  # the given prompts stay visible
    assert given.masked[1, :, 7:].any()
    with pytest.raises(ValueError, match="prompt_frames"):
        training_mask(2, 3, 10, prompt_frames=torch.tensor([3, 10]))
    cache = _timeline_cache([3.0, 4.0], semantic_rate=50.0)
    for item in cache.items:
        item["acoustic"] = item["acoustic"] % 16
        item["semantic"] = item["semantic"] % 20
    config = ParallelAcousticLMConfig(semantic_vocab_size=20, codebook_size=16, num_quantizers=3, window_seconds=1.0,
                                      transformer=TransformerConfig(dim=32, depth=1, heads=2, max_seq_len=64))
    model = ParallelAcousticLM(config).train()
    batch = StageBatches(cache, _spec(1.0, semantic_rate=50.0), batch_size=2, seed=0).next_batch()
    assert (batch["prompt_frames"] >= 1).all()
    loss = model(**batch, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and model.head.grad is not None


def test_trainer_runs_the_parallel_stage_with_both_levers(tmp_path):
    from audiolm_lib.training.trainer import StageTrainer

    cache = InMemoryTokenCache.random(6, 1.2, num_quantizers=3, valid_items=1, codebook_size=16, semantic_vocab_size=20)
    config = StageTrainConfig(stage="parallel", model={"prompt_dropout": 0.3, "transformer": {
                                  "dim": 16, "depth": 1, "heads": 2, "max_seq_len": 128}},
                              prompt_elsewhere=0.3, prompt_same_speaker=0.4, crop_seconds=1.0, batch_size=2, steps=3, warmup_steps=1,
                              eval_every=3, sample_every=100, checkpoint_every=3, device="cpu",
                              progress=False, tensorboard=False)
    trainer = StageTrainer(config, cache, tmp_path / "run")
    assert trainer.spec.prompt_elsewhere == 0.3 and trainer.spec.prompt_same_speaker == 0.4
    assert trainer.model.config.prompt_dropout == 0.3
    assert "prompt_frames" in trainer.batches.next_batch()
    trainer.train()
    assert trainer.step == 3


def _speaker_cache(speakers, seconds=3.0):
    """Items whose codes name their item and frame: acoustic[q, f] = 10**6 * item + 1000 * f + q."""
    cache = _timeline_cache([seconds] * len(speakers))
    for number, (item, speaker) in enumerate(zip(cache.items, speakers)):
        item["acoustic"] = item["acoustic"] + 10**6 * number
        item["speaker"] = speaker
    return cache


def _same_speaker_spec(same, elsewhere=0.0):
    return CropSpec("parallel", 1.0, 25.0, 50.0, num_coarse=3, num_fine=0, prompt_elsewhere=elsewhere,
                    prompt_same_speaker=same)


def test_speaker_example_takes_the_prompt_from_the_other_item_and_the_target_from_this_one():
    cache = _speaker_cache(["a", "a"])
    short = dict(cache[1], acoustic=cache[1]["acoustic"][:, :10], semantic=cache[1]["semantic"][:5])
    for seed in range(20):
        example, prompt = speaker_example(cache[0], short, _same_speaker_spec(1.0), 1.0,
                                          torch.Generator().manual_seed(seed))
        items = example["codes"][0] // 10**6
        frames = example["codes"][0] % 10**6 // 1000
        assert example["codes"].shape == (3, 50) and example["semantic"].shape == (25,)
        assert 1 <= prompt <= 10  # never more prompt than the other item holds
        assert (items[:prompt] == 1).all() and (items[prompt:] == 0).all()
        for part in (frames[:prompt], frames[prompt:]):  # each part one contiguous stretch
            assert torch.equal(part, torch.arange(int(part[0]), int(part[0]) + len(part)))


def test_same_speaker_prompts_come_from_another_item_of_the_speaker():
    cache = _speaker_cache(["a", "a", "b", "b", "b", "c"])
    speaker_of = {0: "a", 1: "a", 2: "b", 3: "b", 4: "b", 5: "c"}
    batches = StageBatches(cache, _same_speaker_spec(1.0), batch_size=6, seed=3)
    crossed = 0
    for _ in range(5):
        batch = batches.next_batch()
        for codes, prompt in zip(batch["codes"], batch["prompt_frames"].tolist()):
            assert prompt >= 1  # every example replaced
            source, target = int(codes[0, 0]) // 10**6, int(codes[0, -1]) // 10**6
            assert speaker_of[source] == speaker_of[target]
            if target == 5:  # "c" has no other item: a prompt from elsewhere in the item itself
                assert source == 5
            else:
                assert source != target
                crossed += 1
    assert crossed > 0
    # a share of 0 with a share from elsewhere draws exactly the stream of before
    before = StageBatches(cache, _spec(0.5), batch_size=6, seed=3)
    after = StageBatches(cache, _same_speaker_spec(0.0, elsewhere=0.5), batch_size=6, seed=3)
    for _ in range(3):
        a, b = before.next_batch(), after.next_batch()
        assert all(torch.equal(a[key], b[key]) for key in a)


def test_same_speaker_share_is_checked():
    with pytest.raises(ValueError, match="at most 1"):
        _same_speaker_spec(0.6, elsewhere=0.5)
    with pytest.raises(ValueError, match="prompt_same_speaker"):
        CropSpec("coarse", 1.0, 25.0, 50.0, prompt_same_speaker=0.5)
    with pytest.raises(ValueError, match="prompt_same_speaker"):
        StageTrainConfig(stage="parallel", prompt_same_speaker=1.5)
    with pytest.raises(ValueError, match="two or more usable items"):
        StageBatches(_speaker_cache(["a", "b", None]), _same_speaker_spec(0.5), batch_size=2)


def test_prompt_only_items_are_same_speaker_prompts_and_never_targets():
    """``prompt_only_tag``: items whose id holds it (telephone copies that keep their speaker) are drawn only as
    another item's same-speaker prompt; every target is an untagged item."""
    cache = _speaker_cache(["a", "a", "a", "b", "b"])
    for number, item in enumerate(cache.items):
        item["id"] = f"x{number}@nb4000" if number in (1, 4) else f"x{number}"
    spec = CropSpec("parallel", 1.0, 25.0, 50.0, num_coarse=3, num_fine=0, prompt_same_speaker=1.0,
                    prompt_only_tag="@nb")
    batches = StageBatches(cache, spec, batch_size=6, seed=1)
    assert sorted(batches.items) == [0, 2, 3]
    prompts_from = set()
    for _ in range(8):
        batch = batches.next_batch()
        for codes, prompt in zip(batch["codes"], batch["prompt_frames"].tolist()):
            source, target = int(codes[0, 0]) // 10**6, int(codes[0, -1]) // 10**6
            assert target in (0, 2, 3) and source != target
            assert {source, target} <= {0, 1, 2} or {source, target} <= {3, 4}  # the same speaker
            prompts_from.add(source)
    assert {1, 4} <= prompts_from  # the tagged items do serve as prompts (item 3's only partner is 4)
    with pytest.raises(ValueError, match="prompt_same_speaker"):
        CropSpec("parallel", 1.0, 25.0, 50.0, prompt_only_tag="@nb")
    for item in cache.items:
        item["id"] += "@nb"
    with pytest.raises(ValueError, match="nothing is left"):
        StageBatches(cache, spec, batch_size=2)
