"""Voice matching (audiolm_lib.voice_match): every continuation frame is one of the prompt's, nearest in the codec's
latent space; off by default; the pipeline, the stream, the ladder and a saved checkpoint all honour the setting."""
import math

import pytest
import torch

from audiolm_lib.pipeline import AudioLM, AudioLMConfig
from audiolm_lib.voice_match import PromptFrameMatcher, code_latents, match_to_prompt
from tiny_pipeline import tiny_audiolm, tiny_parallel_audiolm

RATE = 16000


@pytest.fixture(scope="module")
def model():
    return tiny_parallel_audiolm()


@pytest.fixture
def prompt():
    t = torch.arange(RATE) / RATE
    return (0.3 * torch.sin(2 * math.pi * 220 * t) * (t < 0.5) + 0.2 * torch.sin(2 * math.pi * 990 * t) * (t >= 0.5))[None]


def seeded(seed=5):
    return torch.Generator().manual_seed(seed)


def frame_set(codes: torch.Tensor) -> set[tuple[int, ...]]:
    """The distinct frames (all levels) of ``LongTensor[1, L, F]``."""
    return {tuple(frame.tolist()) for frame in codes[0].T}


def random_codes(codec, frames: int, levels: int | None = None, seed: int = 0) -> torch.Tensor:
    levels = codec.num_quantizers if levels is None else levels
    return torch.randint(0, codec.codebook_size, (1, levels, frames), generator=torch.Generator().manual_seed(seed))


def test_each_frame_becomes_its_nearest_prompt_frame(model):
    codec = model.codec
    prompt_codes, generated = random_codes(codec, 40, seed=1), random_codes(codec, 25, seed=2)
    matched = match_to_prompt(codec, generated, prompt_codes)
    assert matched.shape == generated.shape and frame_set(matched) <= frame_set(prompt_codes)
    # the brute-force nearest neighbour, frame by frame
    query, keys = code_latents(codec, generated)[0], code_latents(codec, prompt_codes)[0]
    for frame in range(generated.shape[-1]):
        cosines = torch.nn.functional.cosine_similarity(query[:, frame : frame + 1], keys, dim=0)
        assert torch.equal(matched[0, :, frame], prompt_codes[0, :, int(cosines.argmax())])
    # frames that are already the prompt's stay as they are; matching is frame by frame (chunks = all at once)
    taken = prompt_codes[..., [3, 17, 3, 39]]
    assert torch.equal(match_to_prompt(codec, taken, prompt_codes), taken)
    halves = [match_to_prompt(codec, part, prompt_codes) for part in generated.split([10, 15], dim=-1)]
    assert torch.equal(torch.cat(halves, dim=-1), matched)


def test_continuity_keeps_runs_of_the_prompts_successive_frames(model):
    codec = model.codec
    prompt_codes, generated = random_codes(codec, 40, seed=1), random_codes(codec, 30, seed=2)
    assert torch.equal(match_to_prompt(codec, generated, prompt_codes, continuity=0.0),
                       match_to_prompt(codec, generated, prompt_codes))

    def chosen(codes):  # the prompt frame index of every matched frame
        columns = {tuple(frame.tolist()): index for index, frame in enumerate(prompt_codes[0].T)}
        return [columns[tuple(frame.tolist())] for frame in codes[0].T]

    def successive_share(indices):
        return sum(b == a + 1 for a, b in zip(indices, indices[1:])) / (len(indices) - 1)

    alone = chosen(match_to_prompt(codec, generated, prompt_codes))
    some = chosen(match_to_prompt(codec, generated, prompt_codes, continuity=0.05))
    held = chosen(match_to_prompt(codec, generated, prompt_codes, continuity=10.0))
    assert successive_share(alone) <= successive_share(some) <= successive_share(held)
    # a bonus larger than any cosine difference: the first choice, then the prompt's frames in order to its end
    first = held[0]
    run = min(len(held), 40 - first)
    assert held[:run] == list(range(first, first + run)) and successive_share(held) > 0.9
    # carried across chunks: a stream's matching equals matching all at once
    matcher = PromptFrameMatcher(codec, prompt_codes, continuity=0.05)
    pieces = [matcher(part) for part in generated.split([7, 1, 22], dim=-1)]
    assert torch.equal(torch.cat(pieces, dim=-1), match_to_prompt(codec, generated, prompt_codes, continuity=0.05))
    with pytest.raises(ValueError, match="continuity must be >= 0"):
        PromptFrameMatcher(codec, prompt_codes, continuity=-0.1)
    with pytest.raises(ValueError, match="voice_match_continuity"):
        AudioLMConfig(voice_match_continuity=float("nan"))


def test_several_neighbours_quantize_the_mean_of_their_latents(model):
    codec = model.codec
    prompt_codes, generated = random_codes(codec, 40, seed=1), random_codes(codec, 20, seed=2)
    matched = match_to_prompt(codec, generated, prompt_codes, neighbours=4)
    assert matched.shape == generated.shape and matched.dtype == torch.long
    assert 0 <= int(matched.min()) and int(matched.max()) < codec.codebook_size
    # the brute-force mean of the four nearest latents, and the RVQ's own reading of it
    query = torch.nn.functional.normalize(code_latents(codec, generated)[0], dim=0)
    keys = code_latents(codec, prompt_codes)[0]
    nearest = (query.T @ torch.nn.functional.normalize(keys, dim=0)).topk(4, dim=1).indices  # [F, 4]
    means = keys[:, nearest].mean(-1)  # [D, F]
    assert torch.equal(matched, codec.quantizer.encode(means[None], 3))
    # more neighbours than prompt frames: all of them, the same mean for every frame
    every = match_to_prompt(codec, generated, prompt_codes[..., :3], neighbours=10)
    assert (every == every[..., :1]).all()
    # chunk by chunk with a bonus equals all at once
    matcher = PromptFrameMatcher(codec, prompt_codes, continuity=0.05, neighbours=4)
    pieces = torch.cat([matcher(part) for part in generated.split([5, 15], dim=-1)], dim=-1)
    assert torch.equal(pieces, match_to_prompt(codec, generated, prompt_codes, continuity=0.05, neighbours=4))
    with pytest.raises(ValueError, match="neighbours must be a whole number"):
        PromptFrameMatcher(codec, prompt_codes, neighbours=0)
    with pytest.raises(ValueError, match="voice_match_neighbours"):
        AudioLMConfig(voice_match_neighbours=0)


def test_strength_moves_each_frame_part_of_the_way(model):
    codec = model.codec
    prompt_codes, generated = random_codes(codec, 40, seed=1), random_codes(codec, 20, seed=2)
    full = match_to_prompt(codec, generated, prompt_codes, neighbours=4)
    assert torch.equal(match_to_prompt(codec, generated, prompt_codes, neighbours=4, strength=1.0), full)
    half = match_to_prompt(codec, generated, prompt_codes, neighbours=4, strength=0.5)
    query = torch.nn.functional.normalize(code_latents(codec, generated)[0], dim=0)
    keys = code_latents(codec, prompt_codes)[0]
    nearest = (query.T @ torch.nn.functional.normalize(keys, dim=0)).topk(4, dim=1).indices
    mix = torch.lerp(code_latents(codec, generated)[0], keys[:, nearest].mean(-1), 0.5)
    assert torch.equal(half, codec.quantizer.encode(mix[None], 3))
    # the farther toward the prompt, the closer the decoded latents to the matched ones
    def distance(codes):
        return float((code_latents(codec, codes) - code_latents(codec, full)).norm())
    assert distance(full) == 0 < distance(half) < distance(generated)
    with pytest.raises(ValueError, match=r"strength must be in \(0, 1\]"):
        PromptFrameMatcher(codec, prompt_codes, strength=0)
    with pytest.raises(ValueError, match="voice_match_strength"):
        AudioLMConfig(voice_match_strength=1.5)


def test_a_generator_of_fewer_levels_matches_on_the_prompts_leading_levels(model):
    codec = model.codec
    prompt_codes, generated = random_codes(codec, 30, seed=3), random_codes(codec, 12, levels=2, seed=4)
    matched = match_to_prompt(codec, generated, prompt_codes)
    assert matched.shape == (1, 2, 12) and frame_set(matched) <= frame_set(prompt_codes[:, :2])


def test_bad_input_is_named(model):
    codec = model.codec
    prompt_codes = random_codes(codec, 10)
    with pytest.raises(ValueError, match="at least one prompt frame"):
        match_to_prompt(codec, random_codes(codec, 5), prompt_codes[..., :0])
    with pytest.raises(ValueError, match="do not fit"):
        match_to_prompt(codec, random_codes(codec, 5), prompt_codes[:, :1])
    with pytest.raises(ValueError, match=r"\[B, levels, frames\]"):
        match_to_prompt(codec, random_codes(codec, 5)[0], prompt_codes)
    with pytest.raises(ValueError, match="residual quantizer"):
        match_to_prompt(object(), random_codes(codec, 5), prompt_codes)
    assert match_to_prompt(codec, random_codes(codec, 5)[..., :0], prompt_codes).shape == (1, 3, 0)


def test_pipeline_off_by_default_and_on_renders_from_prompt_frames(model, prompt):
    assert not model.config.voice_match
    plain, plain_tokens = model.continue_audio(prompt, 1.0, sample_rate=RATE, generator=seeded(), return_tokens=True)
    model.config.voice_match, model.config.voice_match_neighbours = True, 1
    try:
        matched, tokens = model.continue_audio(prompt, 1.0, sample_rate=RATE, generator=seeded(), return_tokens=True)
    finally:
        model.config.voice_match, model.config.voice_match_neighbours = False, 4
    known = tokens["prompt_frames"]
    assert matched.shape == plain.shape and torch.equal(tokens["semantic"], plain_tokens["semantic"])
    assert torch.equal(tokens["codes"][..., :known], plain_tokens["codes"][..., :known])
    new, prompt_codes = tokens["codes"][..., known:], tokens["codes"][..., :known]
    assert frame_set(new) <= frame_set(prompt_codes)
    assert torch.equal(new, match_to_prompt(model.codec, plain_tokens["codes"][..., known:], prompt_codes,
                                            continuity=0.05))
    assert not torch.equal(new, plain_tokens["codes"][..., known:])  # random codes are not the prompt's
    # what is heard is those codes (the decoder's phase reconstruction differs with its context: compare spectra)
    def spec(wave):
        return torch.stft(wave[0, 0], 512, 160, window=torch.hann_window(512), return_complex=True).abs()
    whole = model.decode(tokens["codes"])[..., known * model.codec.hop_length:]
    assert float((spec(matched) - spec(whole)).abs().mean() / spec(whole).mean()) < 0.3
    assert float((spec(matched) - spec(plain)).abs().mean() / spec(plain).mean()) > 0.3


def test_a_call_can_turn_it_on_or_off_whatever_the_config_says(model, prompt):
    def run(**options):
        return model.continue_audio(prompt, 0.6, sample_rate=RATE, generator=seeded(), return_tokens=True,
                                    **options)[1]["codes"]

    plain, asked = run(), run(voice_match=True)
    model.config.voice_match = True
    try:
        assert torch.equal(run(), asked) and torch.equal(run(voice_match=False), plain)
        streamed = model.stream(prompt, 0.6, sample_rate=RATE, generator=seeded(), voice_match=False)
        list(streamed)
    finally:
        model.config.voice_match = False
    assert not torch.equal(asked, plain)
    known = streamed.known
    assert torch.equal(streamed.codes[..., known:], streamed._ids[:, : streamed.levels, known:])  # not matched


def test_stream_decodes_matched_frames(model, prompt):
    model.config.voice_match, model.config.voice_match_neighbours = True, 1
    try:
        stream = model.stream(prompt, 1.5, sample_rate=RATE, generator=seeded())
        streamed = torch.cat(list(stream), dim=-1)
    finally:
        model.config.voice_match, model.config.voice_match_neighbours = False, 4
    known = stream.known
    assert streamed.shape[-1] == (stream.total - known) * model.codec.hop_length
    assert frame_set(stream.codes[..., known:]) <= frame_set(stream.codes[..., :known])
    # chunk by chunk, continuity carried: the generator's own codes matched at once give the same frames
    generated = stream._ids[:, : stream.levels, known:]
    assert torch.equal(stream.codes[..., known:],
                       match_to_prompt(model.codec, generated, stream.codes[..., :known], continuity=0.05))


def test_setting_survives_save_and_load_and_old_configs_read_as_off(tmp_path, prompt):
    import json

    model = tiny_audiolm()
    model.config.voice_match = True
    folder = model.save_pretrained(tmp_path / "on")
    assert AudioLM.from_pretrained(folder).config.voice_match is True
    config_path = folder / "config.json"
    meta = json.loads(config_path.read_text())
    del meta["config"]["voice_match"]  # a checkpoint written before the setting existed
    config_path.write_text(json.dumps(meta))
    loaded = AudioLM.from_pretrained(folder)
    assert loaded.config.voice_match is False
    assert (loaded.config.voice_match_neighbours, loaded.config.voice_match_continuity) == (4, 0.05)  # when on
    # a sequential (coarse + fine) pipeline with a SoundStream codec matches too
    loaded.config.voice_match, loaded.config.voice_match_neighbours = True, 1
    _, tokens = loaded.continue_audio(prompt, 0.4, sample_rate=RATE, generator=seeded(), return_tokens=True)
    known = tokens["prompt_frames"]
    assert frame_set(tokens["codes"][..., known:]) <= frame_set(tokens["codes"][..., :known])
