"""AudioLM.stream: chunk plan, streamed == one-shot where the algorithm allows, independent concurrent streams."""
import math

import pytest
import torch

from audiolm_lib.streaming import StreamConfig, plan_chunks
from tiny_pipeline import tiny_audiolm, tiny_parallel_audiolm

RATE = 16000


@pytest.fixture(scope="module")
def parallel_model():
    return tiny_parallel_audiolm()


@pytest.fixture
def prompt():
    t = torch.arange(RATE) / RATE
    return (0.3 * torch.sin(2 * math.pi * 330 * t) + 0.1 * torch.sin(2 * math.pi * 770 * t))[None]


def seeded(seed=3):
    return torch.Generator().manual_seed(seed)


def test_plan_starts_small_doubles_and_covers_every_frame():
    spans = plan_chunks(40, 400, window=100, context=50, first_new=10, chunk_new=50, first_context=20)
    assert spans[0][:3] == (20, 40, 50)  # the first chunk: 10 new frames after 20 of context
    assert [end - cursor for _, cursor, end, *_ in spans[:4]] == [10, 20, 40, 50]
    assert all(prev[2] == nxt[1] for prev, nxt in zip(spans, spans[1:])) and spans[-1][2] == 400
    assert all(end - start <= 100 and cursor - start <= 50 for start, cursor, end, *_ in spans)
    assert all(w.anchor == 0 for w in spans)
    # anchored: later chunks past the prompt see its last 30 frames within the window, the first chunk as before
    anchored = plan_chunks(40, 400, window=100, context=50, first_new=10, chunk_new=50, first_context=20, anchor=30)
    assert anchored[0] == spans[0] and [w.first_new for w in anchored] == [w.first_new for w in spans]
    assert all(w.length <= 100 and w.known <= 50 for w in anchored)
    assert all((w.anchor_start, w.anchor_end) == (10, 40) for w in anchored[1:] if w.start > 10)
    assert sum(w.anchor > 0 for w in anchored) >= 6
    with pytest.raises(ValueError, match="positive"):
        plan_chunks(0, 10, window=10, context=5, first_new=0, chunk_new=5, first_context=0)


def test_config_is_checked():
    with pytest.raises(ValueError, match="chunk_seconds"):
        StreamConfig(chunk_seconds=0)
    with pytest.raises(ValueError, match="first_context_seconds"):
        StreamConfig(first_context_seconds=-1)
    assert StreamConfig(first_chunk_seconds=None).exact and not StreamConfig().exact


def test_exact_stream_has_the_one_shot_codes_and_length(parallel_model, prompt):
    one_shot, tokens = parallel_model.continue_audio(prompt, 2.5, sample_rate=RATE, generator=seeded(),
                                                     return_tokens=True)
    stream = parallel_model.stream(prompt, 2.5, sample_rate=RATE, generator=seeded(), first_chunk_seconds=None)
    chunks = list(stream)
    assert len(chunks) >= 3  # several windows of the 1 s generator, each out as it is done
    assert torch.equal(stream.codes, tokens["codes"]) and torch.equal(stream.semantic, tokens["semantic"])
    streamed = torch.cat(chunks, dim=-1)
    assert streamed.shape == one_shot.shape
    # the same codes; only the phase reconstruction differs per chunk: the spectra agree
    def spec(w):
        return torch.stft(w[0, 0], 512, 160, window=torch.hann_window(512), return_complex=True).abs()
    assert float((spec(streamed) - spec(one_shot)).abs().mean() / spec(one_shot).mean()) < 0.3


def test_sequential_generator_stream_equals_one_shot(prompt):
    model = tiny_audiolm()
    one_shot = model.continue_audio(prompt, 0.6, sample_rate=RATE, generator=seeded())
    streamed = torch.cat(list(model.stream(prompt, 0.6, sample_rate=RATE, generator=seeded(),
                                           first_chunk_seconds=None)), -1)
    assert torch.allclose(streamed, one_shot, atol=1e-5)  # a conv codec: chunked decoding is exact
    chunked = model.stream(prompt, 0.6, sample_rate=RATE, generator=seeded(), first_chunk_seconds=0.2,
                           chunk_seconds=0.2)
    assert [end - cursor for _, cursor, end, *_ in chunked.spans] == [10, 10, 10]
    assert torch.cat(list(chunked), -1).shape == one_shot.shape


def test_low_latency_stream_is_as_long_as_one_shot_and_reports_stats(parallel_model, prompt):
    stream = parallel_model.stream(prompt, 2.0, sample_rate=RATE, generator=seeded(), first_chunk_seconds=0.4)
    assert [end - cursor for _, cursor, end, *_ in stream.spans[:2]] == [20, 25]  # then the 1 s window's 25 new
    total = sum(chunk.shape[-1] for chunk in stream)
    one_shot = parallel_model.continue_audio(prompt, 2.0, sample_rate=RATE, generator=seeded())
    assert total == one_shot.shape[-1]
    stats = stream.stats
    assert stats["audio_seconds"] == pytest.approx(total / RATE)
    assert stats["time_to_first_audio"] > 0 and stats["real_time_factor"] > 0
    with pytest.raises(StopIteration):
        stream.step()


def test_two_streams_on_one_model_equal_each_alone(parallel_model, prompt):
    alone = [torch.cat(list(parallel_model.stream(prompt, 2.0, sample_rate=RATE, generator=seeded(s))), -1)
             for s in (1, 2)]
    assert not torch.equal(alone[0], alone[1])
    streams = [parallel_model.stream(prompt, 2.0, sample_rate=RATE, generator=seeded(s)) for s in (1, 2)]
    outputs = [[], []]
    while not all(stream.done for stream in streams):  # advanced in turn: their state must not mix
        for index, stream in enumerate(streams):
            if not stream.done:
                outputs[index].append(stream.step())
    for chunks, expected in zip(outputs, alone):
        assert torch.equal(torch.cat(chunks, -1), expected)


def test_stream_arguments_are_checked(parallel_model, prompt):
    with pytest.raises(ValueError, match="seconds"):
        parallel_model.stream(prompt, 0.0)
    with pytest.raises(ValueError, match="first_chunk_seconds"):
        parallel_model.stream(prompt, 1.0, first_chunk_seconds=-1)
    with pytest.raises(TypeError):
        parallel_model.stream(prompt, 1.0, sample_rate=RATE, no_such_option=1)
    with pytest.raises(ValueError, match="stream needs sample_rate="):
        parallel_model.stream(prompt, 1.0)


def test_stream_reads_a_prompt_file_as_continue_audio_does(parallel_model, prompt, tmp_path):
    from audiolm_lib.audio import load_audio, save_audio

    path = save_audio(tmp_path / "prompt.wav", prompt, RATE)
    from_file = parallel_model.stream(path, 1.0, generator=seeded(), first_chunk_seconds=None)
    loaded = load_audio(path, sample_rate=RATE)  # 16-bit samples, as the file holds them
    from_tensor = parallel_model.stream(loaded, 1.0, sample_rate=RATE, generator=seeded(), first_chunk_seconds=None)
    assert torch.equal(torch.cat(list(from_file), -1), torch.cat(list(from_tensor), -1))


def test_a_generator_of_fewer_levels_streams_and_continues_with_those_levels(prompt):
    """``generated_levels=2`` of 3: the pipeline's codes, the stream's codes and both audios use the leading two
    (the prompt's first two levels, then the generated ones)."""
    model = tiny_parallel_audiolm()
    full = model.continue_audio(prompt, 1.5, sample_rate=RATE, generator=seeded(), return_tokens=True)[1]
    model.acoustic.config.generated_levels = 2
    one_shot, tokens = model.continue_audio(prompt, 1.5, sample_rate=RATE, generator=seeded(), return_tokens=True)
    known = full["codes"].shape[-1] - round(1.5 * model.acoustic_rate)  # the prompt's frames
    assert tokens["codes"].shape == (1, 2, full["codes"].shape[-1])
    assert torch.equal(tokens["codes"][..., :known], full["codes"][:, :2, :known])
    stream = model.stream(prompt, 1.5, sample_rate=RATE, generator=seeded(), first_chunk_seconds=None)
    streamed = torch.cat(list(stream), -1)
    assert torch.equal(stream.codes, tokens["codes"]) and streamed.shape == one_shot.shape
    assert torch.isfinite(streamed).all() and streamed.abs().max() > 0


def test_an_anchored_generator_streams_the_one_shot_codes(prompt):
    """Windows that keep the prompt's tail in view (``window_anchor_seconds``): the exact stream fills the same
    windows, so its codes equal ``continue_audio``'s, and they differ from the unanchored generator's."""
    model = tiny_parallel_audiolm()
    plain = model.continue_audio(prompt, 2.5, sample_rate=RATE, generator=seeded(), return_tokens=True)[1]
    model.acoustic.config.window_anchor_seconds = 0.2
    assert any(w.anchor for w in model.acoustic.windows(plain["prompt_frames"], plain["codes"].shape[-1]))
    tokens = model.continue_audio(prompt, 2.5, sample_rate=RATE, generator=seeded(), return_tokens=True)[1]
    stream = model.stream(prompt, 2.5, sample_rate=RATE, generator=seeded(), first_chunk_seconds=None)
    list(stream)
    assert torch.equal(stream.codes, tokens["codes"]) and not torch.equal(tokens["codes"], plain["codes"])


def test_a_low_latency_stream_of_an_anchored_generator_keeps_the_prompt_in_view(prompt):
    model = tiny_parallel_audiolm()
    model.acoustic.config.window_anchor_seconds = 0.2
    stream = model.stream(prompt, 2.5, sample_rate=RATE, generator=seeded())
    streamed = torch.cat(list(stream), -1)
    assert sum(w.anchor > 0 for w in stream.spans) >= 2 and all(w.length <= model.acoustic.window for w in stream.spans)
    assert (stream.codes < model.acoustic.codebook_size).all() and torch.isfinite(streamed).all()
