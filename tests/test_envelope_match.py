"""Envelope matching (audiolm_lib.envelope_match): each decoded frame's spectral envelope moved toward its nearest
prompt frames', its pitch and level kept; local in time; wired into the pipeline's steps after the decoder."""
import json
import math

import pytest
import torch

from audiolm_lib.envelope_match import PromptEnvelopeMatcher, _frame_sizes, _mel_filters
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.pipeline_config import AudioLMConfig
from tiny_pipeline import tiny_parallel_audiolm

RATE = 16000


def voice(f0: float, seconds: float, formants: tuple[float, ...], seed: int = 0) -> torch.Tensor:
    """A harmonic series at ``f0`` whose harmonics near ``formants`` (Hz) are louder: a vowel-like envelope."""
    t = torch.arange(int(seconds * RATE)) / RATE
    wave = torch.zeros_like(t)
    for harmonic in range(1, int(7000 / f0)):
        frequency = harmonic * f0
        level = sum(math.exp(-((frequency - formant) / 250) ** 2) for formant in formants) + 0.02
        wave += level * torch.sin(2 * math.pi * frequency * t + harmonic)
    noise = 0.001 * torch.randn(t.shape, generator=torch.Generator().manual_seed(seed))
    return 0.1 * wave / wave.abs().max() + noise


def mel_envelope(wave: torch.Tensor) -> torch.Tensor:
    """Mean log-mel over the frames, level removed: the long-term envelope's shape."""
    n_fft, hop = _frame_sizes(RATE)
    power = torch.stft(wave, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True).abs().pow(2)
    log_mel = (_mel_filters(RATE, n_fft) @ power + 1e-9).log().mean(-1)
    return log_mel - log_mel.mean()


def pitch(wave: torch.Tensor) -> float:
    """The strongest autocorrelation lag in 60-400 Hz, in Hz."""
    segment = wave[RATE // 2: RATE // 2 + 4096]
    corr = torch.fft.irfft(torch.fft.rfft(segment, 8192).abs().pow(2), 8192)
    low, high = RATE // 400, RATE // 60
    return RATE / (low + int(corr[low:high].argmax()))


def test_mel_filters_equal_librosas():
    import librosa  # a dependency of the eval extra: under CI=true a missing one fails, never skips
    for rate, n_fft in ((16000, 512), (24000, 1024), (8000, 256)):
        expected = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=40, fmin=50.0, fmax=rate / 2, norm=None)
        assert torch.allclose(_mel_filters(rate, n_fft), torch.from_numpy(expected).float(), atol=1e-6)


def test_the_envelope_moves_toward_the_prompts_the_more_the_stronger_and_the_pitch_stays():
    prompt = voice(120.0, 2.0, (700.0, 2600.0), seed=1)  # the prompt's "vowel"
    continuation = voice(200.0, 2.0, (400.0, 1800.0))  # another voice: higher, other formants
    target = mel_envelope(prompt)
    distances = []
    for strength in (0.0, 0.5, 1.0):
        matched = PromptEnvelopeMatcher(prompt, RATE, strength=strength, max_gain_db=30.0)(continuation[None, None])
        assert matched.shape == (1, 1, continuation.shape[-1])
        distances.append(float((mel_envelope(matched[0, 0]) - target).abs().mean()))
        assert abs(pitch(matched[0, 0]) - 200.0) < 4.0  # its own harmonics: the pitch is not the prompt's
    assert distances[0] > distances[1] > distances[2] and distances[2] < 0.6 * distances[0]
    assert abs(pitch(prompt) - 120.0) < 3.0


def test_gains_move_the_shape_not_the_mean_level_and_are_clipped():
    prompt, continuation = voice(120.0, 1.5, (700.0, 1200.0), seed=1), voice(180.0, 1.5, (1000.0, 1500.0))
    n_fft, hop = _frame_sizes(RATE)
    power = torch.stft(continuation, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True).abs().pow(2)
    gains = PromptEnvelopeMatcher(prompt, RATE, max_gain_db=30.0).band_gains(power, 0)
    assert gains.shape == (40, power.shape[-1]) and gains.abs().max() > 3.0
    assert gains.mean(0).abs().max() < 1e-3  # each frame's mean log level over the bands stays where it was
    clipped = PromptEnvelopeMatcher(prompt, RATE, max_gain_db=2.0).band_gains(power, 0)
    assert clipped.abs().max() <= 2.0 + 1e-5 and clipped.abs().max() > 1.9


def test_silence_short_audio_strength_zero_and_a_silent_prompt_are_left_alone():
    prompt, continuation = voice(120.0, 1.0, (700.0,)), voice(180.0, 1.0, (2500.0,))
    matcher = PromptEnvelopeMatcher(prompt, RATE)
    silence = torch.zeros(1, 1, RATE)
    assert torch.equal(matcher(silence), silence)
    short = continuation[:100][None, None]
    assert torch.equal(matcher(short), short)  # shorter than one frame
    assert torch.equal(PromptEnvelopeMatcher(prompt, RATE, strength=0.0)(continuation[None, None]),
                       continuation[None, None])
    for prompt_without_speech in (torch.zeros(RATE), prompt[:100]):
        unchanged = PromptEnvelopeMatcher(prompt_without_speech, RATE)(continuation[None, None])
        assert torch.allclose(unchanged, continuation[None, None], atol=1e-5)  # nothing to match to


def test_each_batch_item_is_matched_to_its_own_prompt():
    prompts = torch.stack([voice(120.0, 1.0, (700.0,)), voice(220.0, 1.0, (2800.0,))])[:, None]
    waves = torch.stack([voice(180.0, 1.0, (1500.0,)), voice(150.0, 1.0, (500.0,), seed=3)])[:, None]
    together = PromptEnvelopeMatcher(prompts, RATE)(waves)
    for index in range(2):
        alone = PromptEnvelopeMatcher(prompts[index], RATE)(waves[index: index + 1])
        assert torch.allclose(together[index], alone[0], atol=1e-6)
    with pytest.raises(ValueError, match="3 waves for 2 prompts"):
        PromptEnvelopeMatcher(prompts, RATE)(torch.cat([waves, waves[:1]]))


def test_it_is_local_in_time_so_a_streams_windows_match_the_whole(monkeypatch):
    import audiolm_lib.envelope_match as envelope_match

    prompt = voice(120.0, 1.5, (700.0, 2600.0))
    long = torch.cat([voice(180.0, 1.0, (400.0,)), voice(160.0, 1.0, (1800.0,), seed=2), voice(210.0, 1.0, (900.0,))])
    matcher = PromptEnvelopeMatcher(prompt, RATE)
    whole = matcher(long[None, None])[0, 0]
    start, stop, margin = 11200, 36800, 2000  # on the 10 ms grid, as a stream's windows of 20 ms code frames are;
    # a window's edges move only what lies within the STFT's and the smoothing's reach of them
    window = matcher(long[start:stop][None, None])[0, 0]
    assert torch.allclose(window[margin:-margin], whole[start + margin: stop - margin], atol=1e-5)
    monkeypatch.setattr(envelope_match, "FRAMES_PER_BLOCK", 7)  # frames compared with the prompt in blocks
    assert torch.allclose(matcher(long[None, None])[0, 0], whole, atol=1e-6)


def test_bad_settings_are_refused_by_name():
    prompt = voice(120.0, 0.5, (700.0,))
    for bad, name in (({"strength": 1.5}, "strength"), ({"neighbours": 0}, "neighbours"),
                      ({"smoothing": 0}, "smoothing"), ({"max_gain_db": 0.0}, "max_db"),
                      ({"strength": float("nan")}, "strength")):
        with pytest.raises(ValueError, match=f"envelope_match_{name}"):
            PromptEnvelopeMatcher(prompt, RATE, **bad)
    for bad in ({"envelope_match_strength": -0.1}, {"envelope_match_neighbours": 0},
                {"envelope_match_smoothing": 0}, {"envelope_match_max_db": -3.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            AudioLMConfig(**bad)


def test_the_pipeline_decodes_through_it_and_saves_it(tmp_path):
    model = tiny_parallel_audiolm()
    codes = torch.randint(0, model.codec.codebook_size, (1, model.num_quantizers, 40),
                          generator=torch.Generator().manual_seed(1))
    prompt = voice(150.0, 1.0, (800.0, 2500.0))[None, None]
    plain = model.decode(codes)
    assert torch.equal(model.decode(codes, prompt), plain)  # off by default
    model.config.envelope_match_strength = 0.7
    assert torch.equal(model.decode(codes), plain)  # nothing to match without the prompt
    matched = model.decode(codes, prompt)
    expected = PromptEnvelopeMatcher(prompt, model.sample_rate, 0.7)(model.codec.decode(codes))
    assert torch.allclose(matched, model.postfilter(expected), atol=1e-6) and not torch.allclose(matched, plain)
    folder = model.save_pretrained(tmp_path / "em")
    assert AudioLM.from_pretrained(folder).config.envelope_match_strength == 0.7
    meta = json.loads((folder / "config.json").read_text())
    for key in [key for key in meta["config"] if key.startswith("envelope_match")]:
        del meta["config"][key]  # a folder from before
    (folder / "config.json").write_text(json.dumps(meta))
    assert AudioLM.from_pretrained(folder).config.envelope_match_strength == 0.0


def test_continuations_and_streams_are_matched_to_the_prompt_they_continue():
    model = tiny_parallel_audiolm()
    prompt = voice(150.0, 1.2, (800.0, 2500.0))
    seeded = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    plain = model.continue_audio(prompt, 0.8, sample_rate=RATE, generator=seeded())
    streamed_plain = torch.cat(list(model.stream(prompt, 0.8, sample_rate=RATE, generator=seeded())), dim=-1)
    heard = []
    original = model.output_steps

    def recorded(prompt_audio=None, **strengths):
        heard.append(prompt_audio)
        return original(prompt_audio, **strengths)

    model.output_steps = recorded
    model.config.envelope_match_strength = 1.0
    matched = model.continue_audio(prompt, 0.8, sample_rate=RATE, generator=seeded())
    streamed = torch.cat(list(model.stream(prompt, 0.8, sample_rate=RATE, generator=seeded())), dim=-1)
    assert matched.shape == plain.shape and not torch.allclose(matched, plain, atol=1e-4)
    assert streamed.shape == streamed_plain.shape and not torch.allclose(streamed, streamed_plain, atol=1e-4)
    assert len(heard) == 2  # both handed the prompt's audio: the part the models use, at the model's rate
    for prompt_audio in heard:
        assert prompt_audio.shape[:2] == (1, 1) and 0 < prompt_audio.shape[-1] <= prompt.shape[-1]
        assert torch.allclose(prompt_audio[0, 0], prompt[-prompt_audio.shape[-1]:], atol=1e-6)


def test_the_ladder_matches_rung_c_and_its_matched_stranger(monkeypatch):
    from audiolm_lib.eval import speaker
    from audiolm_lib.eval.oracle_ladder import _matched_stranger, ladder_waves, matches_prompt

    model = tiny_parallel_audiolm()
    prompt, real = voice(150.0, 1.0, (800.0, 2500.0)), voice(150.0, 1.0, (900.0, 2400.0), seed=4)
    plain, _ = ladder_waves(model, prompt, real, seed=0)
    model.config.envelope_match_strength = 1.0
    matched, _ = ladder_waves(model, prompt, real, seed=0)
    assert torch.equal(matched["resynthesis"], plain["resynthesis"])  # rung b: the codec's own
    assert not torch.allclose(matched["acoustic"], plain["acoustic"], atol=1e-4)  # rung c: the pipeline's steps
    model.config.envelope_match_strength = 0.0
    assert not matches_prompt(model)  # the ladder adds the matched-stranger baseline only where the pipeline matches
    model.config.envelope_match_strength = 1.0
    assert matches_prompt(model)
    stranger = voice(230.0, 1.0, (500.0,))
    tokens = {"codes": model.codec.encode(prompt[None, None]), "prompt_frames": 10, "levels": model.num_quantizers}
    heard = []
    monkeypatch.setattr(speaker, "speaker_similarity", lambda a, b, rate: heard.append((a, b)) or 0.5)
    assert _matched_stranger(model, prompt, stranger, tokens) == 0.5
    stranger_codes = model.codec.encode(stranger[None, None])[:, : model.num_quantizers]
    expected = model.decode(stranger_codes, prompt[None, None])[0, 0]  # the stranger through the same steps
    assert torch.allclose(heard[0][1], expected, atol=1e-6)
    assert not torch.allclose(expected, model.decode(stranger_codes)[0, 0], atol=1e-4)
