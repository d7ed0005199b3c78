"""The pitch postfilter (audiolm_lib.postfilter): a voiced frame's period reinforced, noise and silence left as they
are, energy kept, shapes kept; the pipeline decodes through it when its config says so, and the setting is saved."""
import json
import math

import pytest
import torch

from audiolm_lib.pipeline import AudioLM, AudioLMConfig
from audiolm_lib.postfilter import pitch_postfilter
from tiny_pipeline import tiny_parallel_audiolm

RATE = 16000


def harmonic(seconds: float = 2.0, f0: float = 120.0) -> torch.Tensor:
    t = torch.arange(int(seconds * RATE)) / RATE
    phase = 2 * math.pi * torch.cumsum(f0 + 8 * torch.sin(2 * math.pi * 0.7 * t), 0) / RATE
    wave = sum(torch.sin(k * phase) / k for k in range(1, 25))
    return wave / wave.std()


def comb_residual(wave: torch.Tensor, f0: float = 120.0) -> float:
    """Share of the energy that is not at the period: ``|x[n] - x[n - T]|^2 / |x|^2`` at the true lag (lower is
    more periodic)."""
    lag = round(RATE / f0)
    return float((wave[lag:] - wave[:-lag]).pow(2).sum() / wave.pow(2).sum())


def test_a_noisy_voice_becomes_more_periodic_and_keeps_its_level():
    noise = torch.randn(int(2.0 * RATE), generator=torch.Generator().manual_seed(0))
    f0 = 120.0
    t = torch.arange(noise.shape[-1]) / RATE
    clean = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 25))
    noisy = 0.1 * (clean / clean.std() + 0.6 * noise)
    before, gentle, strong = (comb_residual(pitch_postfilter(noisy, RATE, s), f0) if s else comb_residual(noisy, f0)
                              for s in (0.0, 0.4, 1.0))
    assert strong < gentle < before  # monotonic in the strength
    filtered = pitch_postfilter(noisy, RATE, 1.0)
    assert filtered.shape == noisy.shape and filtered.dtype == noisy.dtype
    assert abs(float(filtered.std() / noisy.std()) - 1) < 0.05  # frame energies restored
    # the filtered speech is closer to the clean harmonic signal than the noisy one was
    scaled = clean / clean.std() * 0.1
    assert float((filtered - scaled).pow(2).mean()) < float((noisy - scaled).pow(2).mean())


def test_noise_and_silence_are_left_alone():
    noise = 0.1 * torch.randn(int(1.5 * RATE), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(pitch_postfilter(noise, RATE, 1.0), noise, atol=1e-6)  # no frame correlates above 0.5
    silence = torch.zeros(RATE)
    assert torch.equal(pitch_postfilter(silence, RATE, 1.0), silence)
    assert torch.equal(pitch_postfilter(noise, RATE, 0.0), noise)  # strength 0: the same tensor's values
    assert pitch_postfilter(torch.zeros(0), RATE, 0.5).shape == (0,)


def test_shapes_batches_and_short_waves():
    voice = harmonic(1.0)
    batch = torch.stack([voice, 0.5 * voice, torch.zeros_like(voice)]).unsqueeze(1)  # [B, 1, T]
    out = pitch_postfilter(batch, RATE, 0.5)
    assert out.shape == batch.shape
    # each item on its own: the batch does not mix items
    assert torch.allclose(out[1, 0], pitch_postfilter(batch[1, 0], RATE, 0.5), atol=1e-5)
    assert torch.equal(out[2], batch[2])
    short = voice[:100]  # shorter than one frame and than the longest lag
    assert pitch_postfilter(short, RATE, 0.5).shape == short.shape
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="strength"):
            pitch_postfilter(voice, RATE, bad)
    with pytest.raises(ValueError, match="threshold"):
        pitch_postfilter(voice, RATE, 0.5, threshold=1.0)


def test_the_pipeline_decodes_through_it_and_saves_the_setting(tmp_path):
    model = tiny_parallel_audiolm()
    codes = torch.randint(0, model.codec.codebook_size, (1, model.num_quantizers, 40),
                          generator=torch.Generator().manual_seed(0))
    plain = model.decode(codes)
    model.config.postfilter_strength, model.config.postfilter_threshold = 0.7, 0.2
    filtered = model.decode(codes)
    assert torch.allclose(filtered, pitch_postfilter(plain, model.sample_rate, 0.7, 0.2), atol=1e-6)
    folder = model.save_pretrained(tmp_path / "pf")
    loaded = AudioLM.from_pretrained(folder).config
    assert (loaded.postfilter_strength, loaded.postfilter_threshold) == (0.7, 0.2)
    meta = json.loads((folder / "config.json").read_text())
    del meta["config"]["postfilter_strength"], meta["config"]["postfilter_threshold"]  # a folder from before
    (folder / "config.json").write_text(json.dumps(meta))
    assert AudioLM.from_pretrained(folder).config.postfilter_strength == 0.0
    for bad in ({"postfilter_strength": 2.0}, {"postfilter_threshold": -0.1}):
        with pytest.raises(ValueError, match="postfilter"):
            AudioLMConfig(**bad)


def test_the_chunked_decoder_postprocesses_what_it_outputs_not_what_seeds_the_next_phase():
    from audiolm_lib.codecs.chunked_decode import ChunkedDecoder

    model = tiny_parallel_audiolm()
    codes = torch.randint(0, model.codec.codebook_size, (1, model.num_quantizers, 60),
                          generator=torch.Generator().manual_seed(2))

    def run(postprocess):
        decoder = ChunkedDecoder(model.codec, codes[..., :10], postprocess=postprocess)
        return torch.cat([decoder.push(codes[..., 10:30]), decoder.push(codes[..., 30:], final=True)], dim=-1)

    plain, doubled = run(None), run(lambda wave: 2 * wave)
    # linear postprocessing of every window gives exactly the scaled stream: the phase chain is the decoder's own
    assert plain.shape[-1] == 50 * model.codec.hop_length and torch.allclose(doubled, 2 * plain, atol=1e-5)


def test_a_stream_decodes_through_the_models_postfilter_or_its_own_strength(monkeypatch):
    import audiolm_lib.output_steps as output_steps

    model = tiny_parallel_audiolm()
    model.config.postfilter_threshold = 0.0
    t = torch.arange(int(1.2 * RATE)) / RATE
    prompt = 0.3 * torch.sin(2 * math.pi * 150 * t)
    seeded = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    calls = []
    original = output_steps.pitch_postfilter

    def counted(wave, rate, strength, threshold):
        calls.append(strength)
        return original(wave, rate, strength, threshold)

    monkeypatch.setattr(output_steps, "pitch_postfilter", counted)

    def stream(**strength):
        return torch.cat(list(model.stream(prompt, 1.5, sample_rate=RATE, generator=seeded(), **strength)), dim=-1)

    model.config.postfilter_strength = 1.0
    filtered = stream()
    assert calls and set(calls) == {1.0}  # every decoded window went through it
    model.config.postfilter_strength = 0.0
    plain = stream()
    assert filtered.shape == plain.shape and not torch.allclose(filtered, plain)
    calls.clear()
    assert torch.allclose(stream(postfilter=1.0), filtered, atol=1e-6)  # this stream's own strength
    assert set(calls) == {1.0} and model.config.postfilter_strength == 0.0  # the model's config untouched
    model.config.postfilter_strength = 1.0
    assert torch.allclose(stream(postfilter=0.0), plain, atol=1e-6)
    with pytest.raises(ValueError, match="postfilter_strength"):
        stream(postfilter=1.5)


def test_the_ladder_measures_the_codec_without_the_pipelines_postfilter():
    from audiolm_lib.eval.oracle_ladder import ladder_waves

    model = tiny_parallel_audiolm()
    model.config.postfilter_strength, model.config.postfilter_threshold = 1.0, 0.0
    t = torch.arange(int(2.0 * RATE)) / RATE
    wave = 0.3 * torch.sin(2 * math.pi * 140 * t) + 0.05 * torch.randn(t.shape, generator=torch.Generator().manual_seed(0))
    prompt, real = wave[: RATE], wave[RATE:]
    waves, tokens = ladder_waves(model, prompt, real, seed=0)
    start = tokens["prompt_frames"] * model.codec.hop_length
    codec_only = model.codec.decode(tokens["codes"][:, : tokens["levels"]])[0, 0, start:]
    length = len(waves["resynthesis"])
    assert torch.allclose(waves["resynthesis"], codec_only[:length].float(), atol=1e-6)  # rung b: the codec's own
    assert not torch.allclose(waves["resynthesis"], model.decode(tokens["codes"][:, : tokens["levels"]])[0, 0, start:]
                              [:length].float(), atol=1e-4)  # what the pipeline's decoding would have made of them


def test_the_fft_correlation_equals_the_cosines_written_out():
    import torch.nn.functional as F

    from audiolm_lib.postfilter import _normalised_correlation

    frame, min_lag, max_lag, hop = 64, 5, 40, 32
    x = torch.randn(1, 1000, generator=torch.Generator().manual_seed(3))
    span = F.pad(x, (2 * max_lag, 200)).unfold(-1, frame + 3 * max_lag, hop)[:, :20]
    here = span[..., 2 * max_lag: 2 * max_lag + frame]
    energy = here.pow(2).sum(-1)
    fast = _normalised_correlation(span, here, energy, frame, min_lag, max_lag)
    assert fast.shape == (1, 20, max_lag - min_lag + 1)
    for lag in (min_lag, 17, max_lag):
        past = span[..., 2 * max_lag - lag: 2 * max_lag - lag + frame]
        plain = (here * past).sum(-1) / (energy * past.pow(2).sum(-1)).sqrt().clamp_min(1e-12)
        assert torch.allclose(fast[..., lag - min_lag], plain, atol=1e-5)


def test_blocks_of_frames_give_the_whole_at_once(monkeypatch):
    import audiolm_lib.postfilter as postfilter

    noise = torch.randn(int(2.0 * RATE), generator=torch.Generator().manual_seed(4))
    voice = 0.1 * (harmonic(2.0) + 0.5 * noise)
    whole = pitch_postfilter(voice, RATE, 1.0, 0.3)
    monkeypatch.setattr(postfilter, "FRAMES_PER_BLOCK", 7)  # block edges inside every voiced stretch
    assert torch.allclose(pitch_postfilter(voice, RATE, 1.0, 0.3), whole, atol=1e-6)
    assert not torch.allclose(whole, voice, atol=1e-3)  # and it did filter
