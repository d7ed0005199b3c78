"""AudioLM pipeline: shapes, prompt preservation, reproducibility, checkpoints and clear errors."""
import json

import pytest
import torch

from audiolm_lib.audio import AudioError
from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig, SemanticLM, SemanticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.semantic.tokenizer import SemanticTokenizer
from audiolm_lib.serialization import CheckpointError

RATE = 16000
VOCAB, CODES = 16, 32


def tiny_pipeline(semantic_vocab: int = VOCAB, coarse_codebook: int = CODES) -> AudioLM:
    torch.manual_seed(0)
    shape = TransformerConfig(dim=32, depth=1, heads=2, max_seq_len=512)
    tokenizer = SemanticTokenizer.mfcc(torch.randn(VOCAB, 39))
    codec = SoundStream(SoundStreamConfig(channels=4, latent_dim=16, num_quantizers=4, codebook_size=CODES))
    semantic = SemanticLM(SemanticLMConfig(vocab_size=semantic_vocab, window_seconds=2.0, transformer=shape))
    coarse = CoarseLM(CoarseLMConfig(semantic_vocab_size=VOCAB, codebook_size=coarse_codebook,
                                     num_coarse_quantizers=2, window_seconds=1.0, transformer=shape))
    fine = FineLM(FineLMConfig(codebook_size=CODES, num_coarse_quantizers=2, num_fine_quantizers=2,
                               window_seconds=0.5, transformer=shape))
    return AudioLM(tokenizer, codec, semantic, coarse, fine).eval()


@pytest.fixture(scope="module")
def model():
    return tiny_pipeline()


@pytest.fixture
def prompt(sine_wave):
    return sine_wave(0.5, RATE, 330.0)  # Tensor[1, T]


def test_continue_audio_shapes_and_prompt_kept(model, prompt):
    wave, tokens = model.continue_audio(prompt, seconds=0.4, sample_rate=RATE, return_tokens=True,
                                        generator=torch.Generator().manual_seed(1))
    frames = tokens["prompt_frames"]
    assert frames == 25  # 0.5 s at 50 Hz
    assert tokens["semantic"].shape == (1, 25 + 20)
    assert tokens["codes"].shape == (1, 4, 25 + 20)
    # the prompt's own codes open the token stream unchanged
    codes = model.codec.encode(prompt[None])
    assert torch.equal(tokens["codes"][..., :frames], codes[..., :frames])
    assert wave.shape == (1, 1, 20 * model.codec.hop_length)
    assert torch.isfinite(wave).all()
    with_prompt = model.continue_audio(prompt, seconds=0.4, sample_rate=RATE, return_prompt=True,
                                       generator=torch.Generator().manual_seed(1))
    assert with_prompt.shape[-1] == 45 * model.codec.hop_length
    assert torch.allclose(with_prompt[..., -wave.shape[-1]:], wave)


def test_reproducible_with_generator(model, prompt):
    runs = [model.continue_audio(prompt, seconds=0.3, sample_rate=RATE, return_tokens=True,
                                 generator=torch.Generator().manual_seed(seed))[1]["codes"] for seed in (7, 7, 8)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_greedy_is_deterministic_without_generator(model, prompt):
    a = model.continue_audio(prompt, seconds=0.2, sample_rate=RATE, temperature=0.0)
    b = model.continue_audio(prompt, seconds=0.2, sample_rate=RATE, temperature=0.0)
    assert torch.equal(a, b)


def test_stereo_and_other_rate_prompts(model, prompt, sine_wave):
    stereo = torch.cat([prompt, prompt], dim=0)
    out = model.continue_audio(stereo, seconds=0.2, sample_rate=RATE, generator=torch.Generator().manual_seed(0))
    assert out.shape == (1, 1, 10 * model.codec.hop_length)
    at_8k = sine_wave(0.5, 8000, 330.0)
    _, tokens = model.continue_audio(at_8k, seconds=0.2, sample_rate=8000, return_tokens=True,
                                     generator=torch.Generator().manual_seed(0))
    assert tokens["prompt_frames"] == 25


def test_unconditioned_generate_batch(model):
    wave, tokens = model.generate(0.3, batch_size=2, generator=torch.Generator().manual_seed(3), return_tokens=True)
    assert wave.shape == (2, 1, 15 * model.codec.hop_length)
    assert tokens["codes"].shape == (2, 4, 15)
    assert tokens["codes"].min() >= 0 and tokens["codes"].max() < CODES


def test_bad_prompts_and_arguments(model):
    with pytest.raises(AudioError, match="at least"):
        model.continue_audio(torch.zeros(100), seconds=1.0, sample_rate=RATE)  # shorter than one frame
    with pytest.raises(AudioError, match="NaN"):
        model.continue_audio(torch.full((RATE,), float("nan")), seconds=1.0, sample_rate=RATE)
    with pytest.raises(ValueError, match="positive"):
        model.continue_audio(torch.zeros(RATE), seconds=0.0, sample_rate=RATE)
    with pytest.raises(ValueError, match="needs sample_rate="):  # a tensor's rate is never guessed
        model.continue_audio(torch.zeros(RATE), seconds=0.2)


def test_a_prompt_file_is_read_at_its_own_rate(model, tmp_path):
    from audiolm_lib.audio import save_audio

    t = torch.arange(int(0.6 * 44100)) / 44100
    path = save_audio(tmp_path / "prompt44k.wav", 0.3 * torch.sin(2 * torch.pi * 330 * t)[None], 44100)
    loaded = model.load_prompt(path)
    assert loaded.shape == (1, round(0.6 * RATE))  # resampled to the model's rate, short enough to be read whole
    gen = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    from_file = model.continue_audio(path, seconds=0.2, generator=gen())
    from_tensor = model.continue_audio(loaded, seconds=0.2, sample_rate=RATE, generator=gen())
    assert torch.equal(from_file, from_tensor)
    with pytest.raises(ValueError, match="own rate"):
        model.continue_audio(path, seconds=0.2, sample_rate=16000)


def test_save_and_load_round_trip(model, prompt, tmp_path):
    model.save_pretrained(tmp_path / "lm")
    loaded = AudioLM.from_pretrained(tmp_path / "lm")
    a = model.continue_audio(prompt, seconds=0.3, sample_rate=RATE, generator=torch.Generator().manual_seed(5))
    b = loaded.continue_audio(prompt, seconds=0.3, sample_rate=RATE, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    # a truncated component names itself
    weights = tmp_path / "lm" / "fine_lm" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="fine_lm"):
        AudioLM.from_pretrained(tmp_path / "lm")
    with pytest.raises(CheckpointError, match="not found"):
        AudioLM.from_pretrained(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="not an AudioLM"):
        AudioLM.from_pretrained(tmp_path / "lm" / "codec")


def test_mismatched_components_are_named():
    with pytest.raises(CheckpointError, match="semantic vocabulary"):
        tiny_pipeline(semantic_vocab=VOCAB + 1)
    with pytest.raises(CheckpointError, match="codebook size"):
        tiny_pipeline(coarse_codebook=CODES * 2)


# ------------------------------------------------------------------------------ long prompts: bounded work
def _long_prompt(seconds: float) -> torch.Tensor:
    torch.manual_seed(1)
    t = torch.arange(int(seconds * RATE)) / RATE
    return (0.3 * torch.sin(2 * torch.pi * 220 * t * (1 + 0.1 * torch.sin(t))) + 0.05 * torch.randn_like(t))[None]


def test_long_prompt_encodes_only_the_context_tail_and_gives_the_whole_prompt_result():
    model = tiny_pipeline()
    model.semantic_tokenizer = SemanticTokenizer.mfcc(torch.randn(VOCAB, 39), normalize=False)  # no global stats
    wave = _long_prompt(6.3)
    encoded = []
    encode = model.codec.encode
    model.codec.encode = lambda w: encoded.append(w.shape[-1]) or encode(w)
    new, tokens = model.continue_audio(wave, 0.6, sample_rate=RATE, generator=torch.Generator().manual_seed(3),
                                       return_tokens=True)
    del model.codec.encode
    cut = model.prompt_cut(wave.shape[-1], RATE)
    # the largest stage window is 2 s; the codec's receptive field adds the margin; 6.3 s are never all encoded
    assert encoded == [wave.shape[-1] - cut.start] and 2.0 * RATE < encoded[0] < 2.5 * RATE
    assert tokens["prompt_frames"] == 100 and tokens["semantic"].shape[1] == 100 + 30
    # what encoding, generating from and decoding the whole prompt gives
    semantic, codes = model.tokenize(wave, RATE)
    whole = model.generate_tokens(semantic, codes, None, 0.6, generator=torch.Generator().manual_seed(3))
    assert torch.equal(tokens["codes"][..., :100], codes[..., -100:])
    assert torch.equal(tokens["semantic"][:, :100], semantic[:, -100:])
    assert torch.equal(tokens["codes"][..., 100:], whole["codes"][..., codes.shape[-1]:])
    expected = model.decode(whole["codes"])[..., codes.shape[-1] * model.codec.hop_length:]
    assert new.shape == expected.shape and torch.allclose(new, expected, atol=1e-5)


def test_int16_prompt_and_bad_seconds(model, prompt):
    pcm = (prompt * 32767).round().to(torch.int16)
    from_pcm = model.continue_audio(pcm, 0.2, sample_rate=RATE, generator=torch.Generator().manual_seed(1))
    from_float = model.continue_audio(pcm.float() / 32768, 0.2, sample_rate=RATE,
                                      generator=torch.Generator().manual_seed(1))
    assert torch.equal(from_pcm, from_float)
    with pytest.raises(AudioError, match="torch.int64 tensor as audio"):
        model.continue_audio(pcm.long(), 0.2, sample_rate=RATE)
    for seconds in (float("inf"), float("nan"), -1.0):
        with pytest.raises(ValueError, match="seconds must be a positive, finite number"):
            model.continue_audio(prompt, seconds, sample_rate=RATE)


def test_components_of_the_wrong_kind_are_named(model):
    with pytest.raises(CheckpointError, match="semantic_tokenizer is a SemanticLM, not a semantic tokenizer"):
        AudioLM(model.semantic_lm, model.codec, model.semantic_lm, model.coarse_lm, model.fine_lm)
    with pytest.raises(CheckpointError, match="codec is a SemanticTokenizer, not a codec"):
        AudioLM(model.semantic_tokenizer, model.semantic_tokenizer, model.semantic_lm, model.coarse_lm, model.fine_lm)


def test_stages_trained_on_another_tokenizer_are_refused(tmp_path):
    from audiolm_lib.provenance import component_identity, identity_summary

    model = tiny_pipeline()
    logmel = SemanticTokenizer.logmel(torch.randn(VOCAB, 80))  # same vocabulary and rate as the MFCC one
    trained_on = {"semantic_tokenizer": identity_summary(component_identity(logmel)),
                  "codec": identity_summary(component_identity(model.codec))}
    assert trained_on["semantic_tokenizer"]["features"] == "logmel"
    model.semantic_lm.trained_on = trained_on
    model.save_pretrained(tmp_path / "m")
    with pytest.raises(CheckpointError, match=r"semantic_tokenizer feature type: semantic_lm was trained on tokens "
                                              r"of 'logmel', this semantic_tokenizer is 'mfcc'"):
        AudioLM.from_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "semantic_lm" / "config.json").read_text())["trained_on"] == trained_on
    model.semantic_lm.trained_on = dict(trained_on, semantic_tokenizer=identity_summary(
        component_identity(SemanticTokenizer.mfcc(torch.randn(VOCAB, 39)))))  # another MFCC k-means: a warning
    with pytest.warns(UserWarning, match="semantic_lm was trained on tokens of another semantic_tokenizer"):
        AudioLM(model.semantic_tokenizer, model.codec, model.semantic_lm, model.coarse_lm, model.fine_lm)
    model.semantic_lm.trained_on["semantic_tokenizer"] = identity_summary(component_identity(model.semantic_tokenizer))
    AudioLM(model.semantic_tokenizer, model.codec, model.semantic_lm, model.coarse_lm, model.fine_lm)  # the right one


def test_prompt_band_changes_only_the_acoustic_prompt_and_survives_save_and_load(model, prompt, tmp_path):
    from audiolm_lib.audio import band_limit, fold_band
    from audiolm_lib.pipeline import AudioLMConfig

    rate = model.sample_rate
    t = torch.arange(prompt.shape[-1]) / rate
    bright = prompt + 0.2 * torch.sin(2 * torch.pi * 6500 * t)  # much above 4 kHz
    semantic, codes, _ = model._prompt_tokens(bright, rate, "test")
    model.config.prompt_band_hz = 4000.0
    try:
        band_semantic, band_codes, _ = model._prompt_tokens(bright, rate, "test")
        folder = model.save_pretrained(tmp_path / "band")
    finally:
        model.config.prompt_band_hz = None
    assert torch.equal(band_semantic, semantic) and band_codes.shape == codes.shape
    assert not torch.equal(band_codes, codes)
    assert torch.equal(band_codes, model.tokenize(band_limit(bright, rate, 4000.0), rate)[1])
    assert AudioLM.from_pretrained(folder).config.prompt_band_hz == 4000.0
    meta = json.loads((folder / "config.json").read_text())
    del meta["config"]["prompt_band_hz"], meta["config"]["prompt_band_mode"]  # written before the settings
    (folder / "config.json").write_text(json.dumps(meta))
    loaded = AudioLM.from_pretrained(folder).config
    assert loaded.prompt_band_hz is None and loaded.prompt_band_mode == "cut"
    # folded: the band above holds the mirror images of the band below (audio.fold_band), not nothing
    import audiolm_lib.audio as audio_module

    calls = []

    def recorded_fold(wave, wave_rate, band):
        calls.append((wave.shape[-1], wave_rate, band))
        return fold_band(wave, wave_rate, band)

    model.config.prompt_band_hz, model.config.prompt_band_mode = 4000.0, "fold"
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(audio_module, "fold_band", recorded_fold)
            fold_semantic, fold_codes, _ = model._prompt_tokens(bright, rate, "test")
    finally:
        model.config.prompt_band_hz, model.config.prompt_band_mode = None, "cut"
    assert calls == [(bright.shape[-1], model.codec.sample_rate, 4000.0)] and torch.equal(fold_semantic, semantic)
    assert torch.equal(fold_codes, model.tokenize(fold_band(bright, rate, 4000.0), rate)[1])
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="prompt_band_hz"):
            AudioLMConfig(prompt_band_hz=bad)
    with pytest.raises(ValueError, match="prompt_band_mode"):
        AudioLMConfig(prompt_band_mode="mirror")
