"""Parallel (SoundStorm-style) acoustic model: loss on the scored tokens only, overfit + regenerate, seeds,
prompts, windows, forward-pass count, checkpoints and clear errors."""
import pytest
import torch

from audiolm_lib.lm.masking import training_mask
from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig
from audiolm_lib.lm.transformer import Transformer, TransformerConfig
from audiolm_lib.serialization import CheckpointError

LEVELS, CODES, CLIP, WINDOW = 3, 16, 24, 12
VOCAB = 2 * CLIP


def make_model(window: int = WINDOW, levels: int = LEVELS, **overrides) -> ParallelAcousticLM:
    config = ParallelAcousticLMConfig(semantic_vocab_size=VOCAB, codebook_size=CODES, num_quantizers=levels,
                                      window_seconds=window / 50, transformer=TransformerConfig(
                                          dim=64, depth=1, heads=2, max_seq_len=64), **overrides)
    return ParallelAcousticLM(config)


@pytest.fixture(scope="module")
def clips():
    """Two clips of 24 frames: a distinct semantic id per frame, random codes on 3 levels."""
    generator = torch.Generator().manual_seed(0)
    semantic = torch.randperm(VOCAB, generator=generator).view(2, CLIP)
    codes = torch.randint(CODES, (2, LEVELS, CLIP), generator=generator)
    return semantic, codes


@pytest.fixture(scope="module")
def trained(clips):
    """A tiny model trained on random 12-frame crops (its window) of the two clips until it memorises them."""
    semantic, codes = clips
    torch.manual_seed(0)
    model = make_model().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    draw = torch.Generator().manual_seed(0)
    batch = 4
    for _ in range(500):
        item = torch.randint(2, (batch,), generator=draw)
        frames = torch.randint(CLIP - WINDOW + 1, (batch,), generator=draw)[:, None] + torch.arange(WINDOW)
        rows = torch.arange(batch)[:, None]
        loss = model(semantic[item][rows, frames], codes[item][rows, :, frames].transpose(1, 2), generator=draw)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return model.eval()


def test_loss_only_on_the_scored_tokens_of_the_chosen_level(clips):
    semantic, codes = clips[0][:, :WINDOW], clips[1][:, :, :WINDOW]
    model = make_model().eval()
    mask = training_mask(2, LEVELS, WINDOW, generator=torch.Generator().manual_seed(3))
    mask.level[:] = 1  # level 2 of 3: level 3 is masked everywhere after the prompt
    mask.masked[:, 2] = torch.arange(WINDOW) >= mask.prompt_frames[:, None]
    mask.masked[:, 0] = False
    mask.masked[:, 1] = mask.scored
    loss = model(semantic, codes, mask=mask)
    changed = codes.clone()
    changed[:, 2][mask.masked[:, 2]] = (changed[:, 2][mask.masked[:, 2]] + 1) % CODES  # hidden and not scored
    assert torch.allclose(model(semantic, changed, mask=mask), loss)
    logits, targets = model.masked_logits(semantic, codes, mask)
    assert logits.shape == (int(mask.scored.sum()), CODES)
    assert torch.equal(targets, codes[:, 1][mask.scored])
    changed = codes.clone()
    changed[:, 1][mask.scored] = (changed[:, 1][mask.scored] + 1) % CODES  # the scored targets
    assert not torch.allclose(model(semantic, changed, mask=mask), loss)


def test_untrained_loss_is_near_chance_and_eval_loss_is_deterministic(clips):
    model = make_model().eval()
    semantic, codes = clips[0][:, :WINDOW], clips[1][:, :, :WINDOW]
    loss = model(semantic, codes)
    assert abs(loss.item() - torch.log(torch.tensor(float(CODES))).item()) < 0.3
    assert loss.item() == model(semantic, codes).item()  # eval mode: the same mask every time


def test_bidirectional_transformer_sees_later_positions():
    torch.manual_seed(0)
    transformer = Transformer(TransformerConfig(dim=16, depth=1, heads=2)).eval()
    x = torch.randn(1, 6, 16)
    later = x.clone()
    later[:, -1] = torch.randn(16)
    assert torch.allclose(transformer(x)[:, 0], transformer(later)[:, 0])  # causal: the past only
    assert not torch.allclose(transformer(x, causal=False)[:, 0], transformer(later, causal=False)[:, 0])
    with pytest.raises(ValueError, match="causal"):
        transformer(x, transformer.new_cache(1, 8), causal=False)


def test_overfits_and_regenerates_through_windows(trained, clips):
    semantic, codes = clips
    accuracies = []
    with torch.no_grad():
        for seed in range(10):
            mask = training_mask(2, LEVELS, WINDOW, generator=torch.Generator().manual_seed(100 + seed))
            logits, targets = trained.masked_logits(semantic[:, :WINDOW], codes[:, :, :WINDOW], mask)
            accuracies.append((logits.argmax(-1) == targets).float().mean().item())
    assert sum(accuracies) / len(accuracies) > 0.9  # teacher-forced
    # the clip is twice the training crop: three windows, each prompted by the previous one's tail
    assert [w[:3] for w in trained.windows(4, CLIP)] == [(0, 4, 12), (6, 12, 18), (12, 18, 24)]
    out = trained.generate(semantic, codes[:, :, :4], CLIP - 4, temperature=0)
    assert out.shape == (2, LEVELS, CLIP - 4)
    assert (out == codes[:, :, 4:]).float().mean().item() > 0.9
    sampled = trained.generate(semantic, codes[:, :, :4], CLIP - 4, generator=torch.Generator().manual_seed(0))
    assert (sampled == codes[:, :, 4:]).float().mean().item() > 0.8


def test_same_seed_same_output_other_seed_differs(clips):
    model = make_model().eval()
    semantic = clips[0][:, :WINDOW]
    runs = [model.generate(semantic, None, WINDOW, temperature=1.0, sampled_levels=LEVELS,
                           generator=torch.Generator().manual_seed(seed)) for seed in (1, 1, 2)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])
    greedy = [model.generate(semantic, None, WINDOW, temperature=0) for _ in range(2)]
    assert torch.equal(greedy[0], greedy[1])


def test_prompt_frames_never_change_and_passes_per_window(clips, monkeypatch):
    model = make_model(levels=LEVELS).eval()
    semantic, codes = clips
    prompt = codes[:, :, :5]
    seen = []
    original = model.hidden

    def spy(aligned, ids):
        seen.append(ids.clone())
        return original(aligned, ids)

    monkeypatch.setattr(model, "hidden", spy)
    out = model.generate(semantic[:, :WINDOW], prompt, WINDOW - 5, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, LEVELS, WINDOW - 5)
    assert len(seen) == 16 + 1 + 1 == model.forward_passes(5, WINDOW)  # level 1: 16 iterations, others: 1
    for ids in seen:
        assert torch.equal(ids[:, :, :5], prompt)
    # a level is filled only after the levels below it are complete
    first_of_level2 = seen[16]
    assert (first_of_level2[:, 0, 5:] < CODES).all() and (first_of_level2[:, 1, 5:] == CODES).all()
    seen.clear()
    model.generate(semantic, codes[:, :, :4], CLIP - 4, steps_per_level=(2, 1))
    assert len(seen) == 3 * (2 + 1 + 1)  # three windows
    for ids in seen[:4]:
        assert torch.equal(ids[:, :, :4], codes[:, :, :4])


def test_windows_cover_every_frame_once():
    model = make_model(window=10, window_context_fraction=0.3)
    for known, total in [(0, 10), (3, 10), (0, 35), (7, 40), (25, 31)]:
        spans = model.windows(known, total)
        assert spans[0][1] == known and spans[-1][2] == total
        for (start, first, end, *_), following in zip(spans, spans[1:] + [None]):
            assert 0 <= start <= first < end <= start + 10
            if following is not None:
                assert following[1] == end
    assert model.windows(5, 5) == []


def test_save_load_round_trip(tmp_path, trained, clips):
    semantic, codes = clips
    trained.save_pretrained(tmp_path / "acoustic")
    assert sorted(p.name for p in (tmp_path / "acoustic").iterdir()) == ["config.json", "model.safetensors"]
    loaded = ParallelAcousticLM.from_pretrained(tmp_path / "acoustic")
    assert loaded.config == trained.config
    run = lambda m: m.generate(semantic, codes[:, :, :4], CLIP - 4, generator=torch.Generator().manual_seed(3))  # noqa: E731
    assert torch.equal(run(loaded), run(trained))
    (tmp_path / "acoustic" / "model.safetensors").write_bytes(b"truncated")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        ParallelAcousticLM.from_pretrained(tmp_path / "acoustic")


def test_clear_errors(clips):
    model = make_model()
    semantic, codes = clips[0][:, :WINDOW], clips[1][:, :, :WINDOW]
    with pytest.raises(ValueError, match="levels"):
        model(semantic, codes[:, :2])
    with pytest.raises(ValueError, match="semantic has"):
        model(semantic[:, :4], codes)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 16\)"):
        model(semantic, codes + CODES)
    with pytest.raises(ValueError, match="batch sizes differ"):
        model.generate(semantic, codes[:1, :, :2], 4)
    with pytest.raises(ValueError, match="num_frames"):
        model.generate(semantic, None, -1)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(semantic, None, WINDOW, temperature=-1.0)
    with pytest.raises(ValueError, match="steps_per_level"):
        ParallelAcousticLMConfig(steps_per_level=(0,))
    with pytest.raises(ValueError, match="max_seq_len"):
        ParallelAcousticLMConfig(window_seconds=100.0)


def test_guidance_scale_one_is_the_sampling_of_before(trained, clips):
    semantic, codes = clips
    run = lambda model, **kw: model.generate(semantic, codes[:, :, :4], CLIP - 4,  # noqa: E731
                                             generator=torch.Generator().manual_seed(7), **kw)
    before = run(trained)
    assert torch.equal(run(trained, guidance_scale=1.0), before)
    # a checkpoint config written before guidance existed loads with guidance off and dropout 0
    from audiolm_lib.serialization import config_from_dict, config_to_dict

    old = {k: v for k, v in config_to_dict(trained.config).items() if k not in ("prompt_dropout", "guidance_scale")}
    config = config_from_dict(ParallelAcousticLMConfig, old)
    assert (config.prompt_dropout, config.guidance_scale) == (0.0, 1.0)
    # with a prompt, guidance changes the samples; in one window without one there is nothing to contrast
    assert not torch.equal(run(trained, guidance_scale=3.0), before)
    free = lambda **kw: trained.generate(semantic[:, :WINDOW], None, WINDOW,  # noqa: E731
                                         generator=torch.Generator().manual_seed(7), **kw)
    assert torch.equal(free(guidance_scale=3.0), free())


def test_guided_logits_combine_prompted_and_unprompted_passes(trained, clips):
    semantic, codes = clips[0][:, :WINDOW], clips[1][:, :, :WINDOW]
    known, weight = 5, trained.head[0]
    ids = codes.clone()
    ids[:, :, known:] = CODES  # the frames to generate are masked
    aligned = semantic[:, trained.semantic_positions(0, WINDOW, semantic.shape[1])]
    with torch.no_grad():
        cond = trained._level_logits(aligned, ids, known, weight, 1.0)
        unprompted = ids.clone()
        unprompted[:, :, :known] = CODES
        uncond = trained._level_logits(aligned, unprompted, known, weight, 1.0)
        assert cond.shape == uncond.shape == (2 * (WINDOW - known), CODES)
        assert torch.allclose(trained._level_logits(aligned, ids, known, weight, 0.0), uncond, atol=1e-4)
        guided = trained._level_logits(aligned, ids, known, weight, 2.5)
        assert torch.allclose(guided, uncond + 2.5 * (cond - uncond), atol=1e-4)
        assert not torch.allclose(cond, uncond, atol=1e-3)  # the trained model does use its prompt
    with pytest.raises(ValueError, match="guidance_scale"):
        trained.generate(semantic, codes[:, :, :4], 4, guidance_scale=-1.0)
    with pytest.raises(ValueError, match="prompt_dropout"):
        make_model(prompt_dropout=2.0)


def test_prompt_dropout_applies_in_training_only(clips):
    semantic, codes = clips[0][:, :WINDOW], clips[1][:, :, :WINDOW]
    plain, dropping = make_model(), make_model(prompt_dropout=1.0)
    dropping.load_state_dict(plain.state_dict())
    draw = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    assert plain.eval()(semantic, codes).item() == dropping.eval()(semantic, codes).item()  # validation: prompted
    expected_mask = training_mask(2, LEVELS, WINDOW, generator=draw(), prompt_dropout=1.0)
    loss = dropping.train()(semantic, codes, generator=draw())
    assert torch.allclose(loss, plain.train()(semantic, codes, mask=expected_mask))
    assert expected_mask.prompt_frames.max() > 0 and not torch.allclose(loss, plain(semantic, codes, generator=draw()))


def test_level_cross_entropy_is_the_masked_loss_of_each_level(trained, clips):
    semantic, codes = clips[0][:, :WINDOW], clips[1][:, :, :WINDOW]
    per_level = trained.level_cross_entropy(semantic, codes, 4)
    assert per_level.shape == (LEVELS,)
    for level in range(LEVELS):  # the same as the training loss with SoundStorm's mask at ratio 1
        mask = training_mask(2, LEVELS, WINDOW, generator=torch.Generator().manual_seed(0))
        free = torch.arange(WINDOW) >= 4
        mask.level[:], mask.prompt_frames[:] = level, 4
        mask.scored[:] = free
        mask.masked[:] = (torch.arange(LEVELS) >= level)[:, None] & free
        assert torch.allclose(per_level[level], trained(semantic, codes, mask=mask), atol=1e-5)
    assert per_level.max() < 1.0 < torch.log(torch.tensor(float(CODES)))  # memorised clips: far below chance
    shuffled = codes[:, :, torch.randperm(WINDOW, generator=torch.Generator().manual_seed(1))]
    assert trained.level_cross_entropy(semantic, shuffled, 4).mean() > per_level.mean() + 1.0
    assert torch.equal(trained.level_cross_entropy(semantic, codes, 4, guidance_scale=1.0), per_level)
    guided_zero = trained.level_cross_entropy(semantic, codes, 4, guidance_scale=0.0)  # the unprompted pass alone
    assert guided_zero.shape == (LEVELS,) and (guided_zero > per_level).any()
    with pytest.raises(ValueError, match="prompt_frames"):
        trained.level_cross_entropy(semantic, codes, WINDOW)


def test_guidance_scale_one_reproduces_the_tokens_sampled_before_guidance_existed():
    """Tokens the library sampled before guidance and prompt dropout were added (commit 041f93d, same seeds)."""
    torch.manual_seed(0)
    model = ParallelAcousticLM(ParallelAcousticLMConfig(
        semantic_vocab_size=20, codebook_size=16, num_quantizers=3, window_seconds=0.24,
        transformer=TransformerConfig(dim=32, depth=1, heads=2, max_seq_len=64))).eval()
    draw = torch.Generator().manual_seed(0)
    semantic, prompt = torch.randint(20, (1, 24), generator=draw), torch.randint(16, (1, 3, 4), generator=draw)
    out = model.generate(semantic, prompt, 20, generator=torch.Generator().manual_seed(5), sampled_levels=2,
                         steps_per_level=(4, 2), guidance_scale=1.0)
    assert out[0].tolist() == [
        [0, 6, 1, 13, 13, 9, 11, 1, 12, 1, 4, 15, 10, 12, 12, 12, 8, 4, 11, 4],
        [8, 8, 5, 4, 4, 0, 13, 1, 15, 12, 13, 9, 0, 14, 7, 15, 9, 10, 10, 10],
        [12, 6, 12, 12, 12, 14, 14, 12, 12, 1, 1, 12, 1, 12, 5, 15, 5, 5, 15, 15]]


def test_generated_levels_stop_generation_and_hide_the_levels_above(trained, clips):
    """A model set to make the leading levels: fewer passes, never fills or reads the levels above (the prompt's
    upper levels do not change its output); a stop after n levels of a full model gives its first n levels within a
    window; out-of-range values are refused."""
    semantic, codes = clips
    window_semantic, prompt = semantic[:, :WINDOW], codes[:, :, :4]
    full = trained.generate(window_semantic, prompt, WINDOW - 4, generator=torch.Generator().manual_seed(2))
    two = trained.generate(window_semantic, prompt, WINDOW - 4, generator=torch.Generator().manual_seed(2),
                           generated_levels=2)
    assert two.shape == (2, 2, WINDOW - 4) and torch.equal(two, full[:, :2])
    model = make_model(generated_levels=1).eval()
    assert model.forward_passes(5, WINDOW) == 16 and "first 1 of 3 levels" in model.describe()
    seen = []
    original = model.transformer.forward
    model.transformer.forward = lambda x, **kw: seen.append(x.clone()) or original(x, **kw)
    out = model.generate(window_semantic, codes[:, :, :5], WINDOW - 5, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 1, WINDOW - 5) and len(seen) == 16
    other_upper = codes[:, :, :5].clone()
    other_upper[:, 1:] = (other_upper[:, 1:] + 1) % CODES
    again = model.generate(window_semantic, other_upper, WINDOW - 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    changed_first = other_upper.clone()
    changed_first[:, 0] = (changed_first[:, 0] + 1) % CODES
    inputs = model.hidden(window_semantic[:, :5], changed_first), model.hidden(window_semantic[:, :5], other_upper)
    assert not torch.allclose(*inputs)  # the first level is read
    for bad in (0, LEVELS + 1):
        with pytest.raises(ValueError, match="generated_levels"):
            trained.generate(semantic, prompt, CLIP - 4, generated_levels=bad)
        with pytest.raises(ValueError, match="generated_levels"):
            make_model(generated_levels=bad)


def test_training_scores_only_the_generated_levels(clips):
    semantic, codes = clips[0][:, :WINDOW], clips[1][:, :, :WINDOW]
    model = make_model(generated_levels=2).train()
    levels = set()
    for seed in range(40):
        mask = training_mask(2, LEVELS, WINDOW, generator=torch.Generator().manual_seed(seed), scored_levels=2)
        levels.update(mask.level.tolist())
    assert levels == {0, 1}
    assert torch.isfinite(model(semantic, codes, generator=torch.Generator().manual_seed(0)))
    # the same number of draws: every other part of the mask is what the full-level draw gives
    a = training_mask(2, LEVELS, WINDOW, generator=torch.Generator().manual_seed(7))
    b = training_mask(2, LEVELS, WINDOW, generator=torch.Generator().manual_seed(7), scored_levels=LEVELS)
    assert torch.equal(a.masked, b.masked) and torch.equal(a.prompt_frames, b.prompt_frames)
    with pytest.raises(ValueError, match="scored_levels"):
        training_mask(2, LEVELS, WINDOW, scored_levels=LEVELS + 1)


def test_anchored_windows_show_every_later_window_the_prompt_tail(clips, monkeypatch):
    """``window_anchor_seconds``: each later window's input starts with the prompt's last frames (on the levels
    the model makes), its new frames are written back in place, and the anchor changes what is generated."""
    semantic, codes = clips
    model = make_model(window=10, window_context_fraction=0.4).eval()  # 4 frames of context per later window
    plain = model.generate(semantic, codes[:, :, :4], CLIP - 4, generator=torch.Generator().manual_seed(0))
    model.config.window_anchor_seconds = 2 / 50  # 2 frames
    assert model.anchor == 2 and all(w.anchor == 2 for w in model.windows(4, CLIP)[1:])
    seen, original = [], model.hidden

    def spy(aligned, ids):
        seen.append(ids.clone())
        return original(aligned, ids)

    monkeypatch.setattr(model, "hidden", spy)
    anchored = model.generate(semantic, codes[:, :, :4], CLIP - 4, generator=torch.Generator().manual_seed(0))
    passes = model.forward_passes(4, CLIP) // len(model.windows(4, CLIP))
    assert len(seen) == model.forward_passes(4, CLIP) and anchored.shape == plain.shape
    for ids in seen[passes:]:  # every pass of every later window
        assert ids.shape[-1] <= 10 and torch.equal(ids[:, :, :2], codes[:, :, 2:4])
    assert (anchored < CODES).all() and not torch.equal(anchored, plain)
    # the override: 0 s of anchor is the plain plan again
    monkeypatch.setattr(model, "hidden", original)
    again = model.generate(semantic, codes[:, :, :4], CLIP - 4, generator=torch.Generator().manual_seed(0),
                           window_anchor_seconds=0)
    assert torch.equal(again, plain)


def test_anchor_longer_than_the_context_is_refused():
    with pytest.raises(ValueError, match="window_anchor_seconds"):
        make_model(window=10, window_context_fraction=0.3, window_anchor_seconds=4 / 50)
