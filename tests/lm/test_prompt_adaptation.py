"""Prompt adaptation (audiolm_lib.lm.prompt_adaptation): a copy of the parallel acoustic generator fine-tuned on the
prompt; the model untouched, the result reproducible, wired into continue_audio, stream and the oracle ladder."""
import pytest
import torch

from audiolm_lib.eval.oracle_ladder import ladder_waves
from audiolm_lib.lm.masking import training_mask
from audiolm_lib.lm.prompt_adaptation import adapt_to_prompt, anchor_divergence, check_settings, make_anchor
from audiolm_lib.lm.quantize import is_quantized, quantize_linear_int8
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.pipeline_config import AudioLMConfig
from tiny_pipeline import tiny_audiolm, tiny_parallel_audiolm

RATE = 16000


@pytest.fixture(scope="module")
def model():
    return tiny_parallel_audiolm()


@pytest.fixture
def prompt(sine_wave):
    return 0.6 * sine_wave(freq=220.0) + 0.2 * sine_wave(freq=660.0)  # Tensor[1, T]: 1 s, two partials


def prompt_tokens(model, prompt):
    with torch.inference_mode():  # as the pipeline makes them: inference tensors
        semantic, codes, _ = model._prompt_tokens(prompt, RATE, "test")
    return semantic, codes


def prompt_loss(acoustic, semantic, codes) -> float:
    """The training loss on the prompt under fixed masks (eval mode: no dropout)."""
    batch = 16
    mask = training_mask(batch, codes.shape[1], codes.shape[2], generator=torch.Generator().manual_seed(123))
    with torch.no_grad():
        acoustic.eval()
        return float(acoustic(semantic.expand(batch, -1), codes.expand(batch, -1, -1), mask=mask))


def test_adapting_lowers_the_prompts_loss_and_leaves_the_model_as_it_was(model, prompt):
    semantic, codes = prompt_tokens(model, prompt)
    before = {name: value.clone() for name, value in model.acoustic.state_dict().items()}
    losses = [prompt_loss(adapt_to_prompt(model.acoustic, semantic, codes, steps=steps, learning_rate=3e-3), semantic,
                          codes) for steps in (0, 5, 20)]
    assert losses[0] > losses[1] > losses[2], losses  # more steps, closer to the prompt's own codes
    after = model.acoustic.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)  # a copy was trained, not the model
    assert not model.acoustic.training


def test_adapting_is_reproducible_and_leaves_the_global_random_state_alone(model, prompt):
    semantic, codes = prompt_tokens(model, prompt)
    state = torch.get_rng_state()
    first = adapt_to_prompt(model.acoustic, semantic, codes, steps=3, learning_rate=1e-3, seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    second = adapt_to_prompt(model.acoustic, semantic, codes, steps=3, learning_rate=1e-3, seed=4)
    other = adapt_to_prompt(model.acoustic, semantic, codes, steps=3, learning_rate=1e-3, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(first.parameters(), other.parameters()))
    assert not first.training and not any(p.requires_grad for p in first.parameters())


def test_no_steps_or_a_prompt_under_two_frames_keeps_the_model(model, prompt):
    semantic, codes = prompt_tokens(model, prompt)
    assert adapt_to_prompt(model.acoustic, semantic, codes, steps=0) is model.acoustic
    assert adapt_to_prompt(model.acoustic, semantic[:, :1], codes[..., :1], steps=3) is model.acoustic


def test_what_cannot_be_adapted_is_refused_by_name(model, prompt):
    semantic, codes = prompt_tokens(model, prompt)
    with pytest.raises(TypeError, match="ParallelAcousticLM"):
        adapt_to_prompt(tiny_audiolm().acoustic, semantic, codes, steps=2)
    quantized = quantize_linear_int8(model.acoustic)
    assert is_quantized(quantized) and not is_quantized(model.acoustic)
    with pytest.raises(ValueError, match="int8"):
        adapt_to_prompt(quantized, semantic, codes, steps=2)
    with pytest.raises(ValueError, match="one prompt at a time"):
        adapt_to_prompt(model.acoustic, semantic.expand(2, -1), codes.expand(2, -1, -1), steps=2)
    for steps, rate, batch, name in ((-1, 1e-4, 8, "steps"), (1.5, 1e-4, 8, "steps"), (2, 0.0, 8, "learning_rate"),
                                     (2, float("nan"), 8, "learning_rate"), (2, 1e-4, 0, "batch")):
        with pytest.raises(ValueError, match=f"prompt_adaptation_{name}"):
            check_settings(steps, rate, batch)
    with pytest.raises(ValueError, match="prompt_adaptation_steps"):
        AudioLMConfig(prompt_adaptation_steps=-2)
    with pytest.raises(ValueError, match="prompt_adaptation_parts must be one of all, transformer"):
        AudioLMConfig(prompt_adaptation_parts="heads")
    with pytest.raises(ValueError, match="prompt_adaptation_parts"):
        adapt_to_prompt(model.acoustic, semantic, codes, steps=2, parts="embeddings")


def test_adapting_the_transformer_keeps_the_embeddings_and_head(model, prompt):
    semantic, codes = prompt_tokens(model, prompt)
    tuned = adapt_to_prompt(model.acoustic, semantic, codes, steps=5, learning_rate=3e-3, parts="transformer")
    original = dict(model.acoustic.named_parameters())
    moved = {name for name, value in tuned.named_parameters() if not torch.equal(value, original[name])}
    # the code and semantic embeddings and the head as they were; only the blocks and the final norm moved
    assert moved and all(name.startswith("transformer.") for name in moved), moved
    assert not any(value.requires_grad for value in tuned.parameters())
    # it still learns the prompt, from the transformer alone
    assert prompt_loss(tuned, semantic, codes) < prompt_loss(model.acoustic, semantic, codes)
    everything = adapt_to_prompt(model.acoustic, semantic, codes, steps=5, learning_rate=3e-3)
    assert not torch.equal(everything.head, model.acoustic.head)


def continuation(model, prompt, **options):
    wave, tokens = model.continue_audio(prompt, 1.0, sample_rate=RATE, generator=torch.Generator().manual_seed(7),
                                        return_tokens=True, **options)
    return wave, tokens["codes"]


def test_continue_audio_adapts_reproducibly_and_only_when_asked(model, prompt):
    plain_wave, plain = continuation(model, prompt)
    assert torch.equal(continuation(model, prompt, adaptation_steps=0)[1], plain)
    wave, adapted = continuation(model, prompt, adaptation_steps=10)
    assert torch.equal(continuation(model, prompt, adaptation_steps=10)[1], adapted)
    assert adapted.shape == plain.shape and wave.shape == plain_wave.shape
    prompt_frames = prompt_tokens(model, prompt)[1].shape[-1]
    assert torch.equal(adapted[..., :prompt_frames], plain[..., :prompt_frames])
    assert not torch.equal(adapted, plain)
    model.config.prompt_adaptation_steps = 10  # the config's setting: the same as asked per call
    try:
        assert torch.equal(continuation(model, prompt)[1], adapted)
        # an exact stream continues with the same adapted copy: continue_audio's codes
        stream = model.stream(prompt, 1.0, sample_rate=RATE, generator=torch.Generator().manual_seed(7),
                              chunk_seconds=None, first_chunk_seconds=None)
        list(stream)
        assert torch.equal(stream.codes, adapted)
        _, tokens = ladder_waves(model, prompt[0], prompt[0, : RATE // 2])
        assert tokens["acoustic"] is not model.acoustic
    finally:
        model.config.prompt_adaptation_steps = 0
    assert ladder_waves(model, prompt[0], prompt[0, : RATE // 2])[1]["acoustic"] is model.acoustic


def test_the_setting_is_saved_with_the_pipeline(model, tmp_path):
    model.config.prompt_adaptation_steps, model.config.prompt_adaptation_learning_rate = 12, 2e-4
    model.config.prompt_adaptation_parts = "transformer"
    try:
        folder = model.save_pretrained(tmp_path / "adapted")
    finally:
        model.config.prompt_adaptation_steps, model.config.prompt_adaptation_learning_rate = 0, 1e-4
        model.config.prompt_adaptation_parts = "all"
    loaded = AudioLM.from_pretrained(folder).config
    assert (loaded.prompt_adaptation_steps, loaded.prompt_adaptation_learning_rate, loaded.prompt_adaptation_batch,
            loaded.prompt_adaptation_parts) == (12, 2e-4, 8, "transformer")


def test_int8_keeps_the_generator_float_while_it_adapts(model, prompt):
    model.config.prompt_adaptation_steps = 3
    try:
        quantized = model.quantize_int8("all")
        assert quantized.acoustic is model.acoustic and is_quantized(quantized.semantic_lm)
        assert quantized.quantize_int8("preferred") is quantized  # nothing left to quantise
        wave = quantized.continue_audio(prompt, 0.5, sample_rate=RATE, generator=torch.Generator().manual_seed(1))
        assert wave.shape[-1] == 25 * 320 and torch.isfinite(wave).all()
    finally:
        model.config.prompt_adaptation_steps = 0
    assert is_quantized(model.quantize_int8("preferred").acoustic)
    with pytest.raises(ValueError, match="int8"):  # asked per call of an int8 generator: refused by name
        model.quantize_int8("preferred").continue_audio(prompt, 0.5, sample_rate=RATE, adaptation_steps=2)


def test_a_prompt_longer_than_a_window_adapts_on_its_last_window(model, sine_wave):
    long_prompt = sine_wave(seconds=3.0, freq=220.0)  # 150 frames; the tiny generator's window is 50
    semantic, codes = prompt_tokens(model, long_prompt)
    assert codes.shape[-1] > model.acoustic.window
    tail = adapt_to_prompt(model.acoustic, semantic, codes, steps=2, learning_rate=1e-3)
    ratio = model.semantic_rate / model.acoustic_rate
    start = codes.shape[-1] - model.acoustic.window
    same = adapt_to_prompt(model.acoustic, semantic[:, int(start * ratio):], codes[..., start:], steps=2,
                           learning_rate=1e-3)
    assert all(torch.equal(a, b) for a, b in zip(tail.parameters(), same.parameters()))


def test_an_anchor_holds_the_copy_to_the_shipped_predictions_on_new_content(model, prompt):
    semantic, codes = prompt_tokens(model, prompt)
    anchor = make_anchor(model, semantic, codes, seconds=0.5)
    frames = round(0.5 * model.acoustic.config.acoustic_rate)
    assert anchor.prompt_frames == min(codes.shape[-1], frames)
    assert anchor.codes.shape == (1, codes.shape[1], anchor.prompt_frames + frames)
    assert torch.equal(anchor.codes[..., :anchor.prompt_frames], codes[..., -anchor.prompt_frames:])
    assert torch.equal(make_anchor(model, semantic, codes, seconds=0.5).codes, anchor.codes)  # one fixed draw

    def divergence(copy_):
        with torch.no_grad():
            return float(anchor_divergence(copy_.eval(), model.acoustic, anchor, torch.Generator().manual_seed(5)))

    free = adapt_to_prompt(model.acoustic, semantic, codes, steps=10, learning_rate=3e-3)
    held = adapt_to_prompt(model.acoustic, semantic, codes, steps=10, learning_rate=3e-3, anchor=anchor,
                           anchor_weight=3.0)
    again = adapt_to_prompt(model.acoustic, semantic, codes, steps=10, learning_rate=3e-3, anchor=anchor,
                            anchor_weight=3.0)
    assert all(torch.equal(a, b) for a, b in zip(held.parameters(), again.parameters()))
    assert divergence(model.acoustic) == 0.0
    assert 0.0 < divergence(held) < divergence(free)  # closer to the shipped predictions where the content is new
    assert prompt_loss(held, semantic, codes) < prompt_loss(model.acoustic, semantic, codes)  # and still learns
    with pytest.raises(ValueError, match="needs an anchor"):
        adapt_to_prompt(model.acoustic, semantic, codes, steps=2, anchor_weight=1.0)
    with pytest.raises(ValueError, match="prompt_adaptation_anchor_weight"):
        AudioLMConfig(prompt_adaptation_anchor_weight=-1.0)


def test_the_pipeline_makes_the_anchor_when_its_weight_is_set(model, prompt):
    model.config.prompt_adaptation_anchor_weight = 3.0
    try:
        _, anchored = continuation(model, prompt, adaptation_steps=5)
        assert torch.equal(continuation(model, prompt, adaptation_steps=5)[1], anchored)
    finally:
        model.config.prompt_adaptation_anchor_weight = 0.0
    assert not torch.equal(continuation(model, prompt, adaptation_steps=5)[1], anchored)
