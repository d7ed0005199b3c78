"""The keys voice matching chooses prompt frames by: content (``voice_match_content_weight``: the semantic ids'
k-means centroids beside the codec latents; the pipeline, the stream and the ladder hand each new frame its own
semantic id) and centred latents (``voice_match_centre``: each voice's mean taken off); both off leave matching as it
was."""
import pytest
import torch

from audiolm_lib.voice_match import InOrder, PromptFrameMatcher, content_table, frame_ids, voice_matcher_for
from test_voice_match import RATE, model, prompt, random_codes, seeded  # noqa: F401  (fixtures shared)


def one_hot_table(ids: int = 6) -> torch.Tensor:
    return torch.eye(ids)  # every id's vector orthogonal to every other's: cosine 1 for the same id, else 0


def test_frame_ids_follow_the_rate_ratio_and_stop_at_the_last_id():
    semantic = torch.arange(10)[None] * 10
    assert frame_ids(semantic, 0, 4, 1.0).tolist() == [[0, 10, 20, 30]]
    assert frame_ids(semantic, 2, 6, 0.5).tolist() == [[10, 10, 20, 20]]  # two acoustic frames per semantic id
    assert frame_ids(semantic, 8, 12, 1.0).tolist() == [[80, 90, 90, 90]]  # past the end: the last id
    with pytest.raises(ValueError, match=r"\[B, S\]"):
        frame_ids(semantic[:, :0], 0, 2, 1.0)


def test_a_large_content_weight_takes_a_prompt_frame_that_says_the_same(model):
    codec = model.codec
    prompt_codes, generated = random_codes(codec, 30, seed=1), random_codes(codec, 20, seed=2)
    prompt_ids = torch.arange(30)[None] % 6
    new_ids = torch.randint(0, 6, (1, 20), generator=seeded(3))
    matcher = PromptFrameMatcher(codec, prompt_codes, content=(one_hot_table(), prompt_ids, 10.0))
    matched = matcher(generated, new_ids)
    # each new frame is a prompt frame of its own id (the nearest in the latents among those)
    prompt_frames = {tuple(prompt_codes[0, :, f].tolist()): f for f in range(30)}
    chosen = [prompt_frames[tuple(matched[0, :, f].tolist())] for f in range(20)]
    assert [prompt_ids[0, f].item() for f in chosen] == new_ids[0].tolist()
    plain = PromptFrameMatcher(codec, prompt_codes)(generated)
    assert not torch.equal(plain, matched)  # the latents alone choose other frames
    # weight 0 (or no content) is matching as it was; chunks in order equal the whole
    assert torch.equal(PromptFrameMatcher(codec, prompt_codes, content=(one_hot_table(), prompt_ids, 0.0))(
        generated, new_ids), plain)
    in_order = InOrder(PromptFrameMatcher(codec, prompt_codes, content=(one_hot_table(), prompt_ids, 10.0)), 30, 1.0)
    semantic = torch.cat([prompt_ids, new_ids], dim=1)
    halves = [in_order(part, semantic) for part in generated.split([7, 13], dim=-1)]
    assert torch.equal(torch.cat(halves, dim=-1), matched)


def test_a_small_weight_breaks_near_ties_of_the_latents_only(model):
    codec = model.codec
    prompt_codes, generated = random_codes(codec, 30, seed=1), random_codes(codec, 20, seed=2)
    prompt_ids, new_ids = torch.arange(30)[None] % 6, torch.randint(0, 6, (1, 20), generator=seeded(3))
    plain = PromptFrameMatcher(codec, prompt_codes)(generated)

    def agreement(weight):
        matched = PromptFrameMatcher(codec, prompt_codes, content=(one_hot_table(), prompt_ids, weight))(
            generated, new_ids)
        return float((matched == plain).all(dim=1).float().mean())

    shares = [agreement(w) for w in (1e-6, 0.05, 10.0)]
    assert shares[0] == 1.0 and shares[0] >= shares[1] >= shares[2] and shares[2] < 1.0


def test_bad_content_is_named(model):
    codec = model.codec
    prompt_codes, generated = random_codes(codec, 10), random_codes(codec, 4)
    table, ids = one_hot_table(), torch.zeros(1, 10, dtype=torch.long)
    with pytest.raises(ValueError, match="prompt's content ids must be"):
        PromptFrameMatcher(codec, prompt_codes, content=(table, ids[:, :5], 1.0))
    with pytest.raises(ValueError, match="lie in"):
        PromptFrameMatcher(codec, prompt_codes, content=(table, ids + 6, 1.0))
    with pytest.raises(ValueError, match="finite number"):
        PromptFrameMatcher(codec, prompt_codes, content=(table, ids, -1.0))
    matcher = PromptFrameMatcher(codec, prompt_codes, content=(table, ids, 1.0))
    with pytest.raises(ValueError, match="content ids"):
        matcher(generated)
    with pytest.raises(ValueError, match=r"\[B, F\]"):
        matcher(generated, torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="k-means centroids"):
        content_table(object())
    from audiolm_lib.pipeline_config import AudioLMConfig

    with pytest.raises(ValueError, match="voice_match_content_weight"):
        AudioLMConfig(voice_match_content_weight=float("nan"))
    with pytest.raises(ValueError, match="semantic ids too"):
        voice_matcher_for(codec, prompt_codes, AudioLMConfig(voice_match=True, voice_match_content_weight=1.0))


def test_pipeline_stream_and_ladder_match_by_content(model, prompt):
    from audiolm_lib.eval.oracle_ladder import ladder_waves

    config = model.config
    config.voice_match, config.voice_match_neighbours, config.voice_match_content_weight = True, 1, 10.0
    try:
        _, tokens = model.continue_audio(prompt, 1.0, sample_rate=RATE, generator=seeded(), return_tokens=True)
        stream = model.stream(prompt, 1.0, sample_rate=RATE, generator=seeded())
        list(stream)
        # chunk by chunk, each with its own ids: the generator's codes matched at once give the same frames
        stream_known = stream.known
        at_once = model.match_voice(stream._ids[:, : stream.levels, stream_known:], stream.codes[..., :stream_known],
                                    semantic=stream.semantic)
        config.voice_match_content_weight = 0.0
        _, plain = model.continue_audio(prompt, 1.0, sample_rate=RATE, generator=seeded(), return_tokens=True)
        config.voice_match_content_weight = 10.0
        waves, _ = ladder_waves(model, prompt[0, :8000], prompt[0, 8000:], seed=1)
    finally:
        config.voice_match, config.voice_match_neighbours, config.voice_match_content_weight = False, 4, 0.0
    known, semantic = tokens["prompt_frames"], tokens["semantic"]
    ratio = model.semantic_rate / model.acoustic_rate
    codes = tokens["codes"]
    table = content_table(model.semantic_tokenizer)
    prompt_ids = frame_ids(semantic, 0, known, ratio)[0]
    new_ids = frame_ids(semantic, known, codes.shape[-1], ratio)[0]
    by_frame: dict[tuple, list[int]] = {}
    for f in range(known):  # a steady tone's prompt has frames of equal codes
        by_frame.setdefault(tuple(codes[0, :, f].tolist()), []).append(f)
    for frame, new_id in enumerate(new_ids.tolist()):  # each frame's prompt frame says (nearly) what it says
        sources = by_frame[tuple(codes[0, :, known + frame].tolist())]
        cosines = torch.nn.functional.cosine_similarity(table[new_id][None], table[prompt_ids], dim=-1)
        assert cosines[sources].max() > cosines.max() - 0.2
    assert not torch.equal(codes[..., known:], plain["codes"][..., known:])
    assert torch.equal(stream.codes[..., stream_known:], at_once)
    assert set(waves) == {"real", "resynthesis", "acoustic", "pipeline"}


class ShiftCodec:
    """A one-level codec whose codes ``n`` and ``n + 40`` decode to latents a constant offset apart."""

    def __init__(self, offset: float = 3.0):
        base = torch.randn(40, 8, generator=seeded(7))
        self.table = torch.cat([base, base + offset * torch.ones(8)])
        self.quantizer = self

    def decode(self, codes):  # LongTensor[B, 1, F] -> Tensor[B, D, F]
        return self.table[codes[:, 0]].transpose(1, 2)


def test_centred_latents_choose_the_same_frames_whatever_the_voices_offset():
    codec = ShiftCodec()
    prompt_codes = torch.arange(40)[None, None]
    order = torch.randperm(40, generator=seeded(8))[:25]
    same_voice, shifted_voice = order[None, None], (order + 40)[None, None]
    centred = [PromptFrameMatcher(codec, prompt_codes, centre=True, prior_frames=0)(codes)
               for codes in (same_voice, shifted_voice)]
    assert torch.equal(centred[0], centred[1])  # the offset (the voice's mean) is taken off
    plain = PromptFrameMatcher(codec, prompt_codes)(shifted_voice)
    assert not torch.equal(plain, centred[1])
    # the running mean is causal and carried across chunks: halves equal the whole
    matcher = PromptFrameMatcher(codec, prompt_codes, centre=True, prior_frames=3)
    halves = torch.cat([matcher(shifted_voice[..., :9]), matcher(shifted_voice[..., 9:])], dim=-1)
    assert torch.equal(halves, PromptFrameMatcher(codec, prompt_codes, centre=True, prior_frames=3)(shifted_voice))
    with pytest.raises(ValueError, match="prior_frames"):
        PromptFrameMatcher(codec, prompt_codes, centre=True, prior_frames=-1)


def test_the_pipeline_centres_when_asked(model, prompt):
    config = model.config
    config.voice_match = True
    try:
        _, plain = model.continue_audio(prompt, 1.0, sample_rate=RATE, generator=seeded(), return_tokens=True)
        config.voice_match_centre = True
        _, centred = model.continue_audio(prompt, 1.0, sample_rate=RATE, generator=seeded(), return_tokens=True)
    finally:
        config.voice_match, config.voice_match_centre = False, False
    known = plain["prompt_frames"]
    assert torch.equal(plain["semantic"], centred["semantic"])  # the same generation, matched otherwise
    assert not torch.equal(plain["codes"][..., known:], centred["codes"][..., known:])
