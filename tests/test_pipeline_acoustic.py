"""AudioLM with a pluggable acoustic generator: the parallel model in place of coarse + fine (continue, seeds,
prompt kept, save/load, compatibility checks, assemble, training through the stage trainer)."""
import json

import pytest
import torch
from typer.testing import CliRunner

from audiolm_lib.cli import build_app
from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
from audiolm_lib.lm.hierarchical import HierarchicalAcoustic
from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig
from audiolm_lib.lm.stages import SemanticLM, SemanticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.semantic.tokenizer import SemanticTokenizer
from audiolm_lib.serialization import CheckpointError

RATE = 16000
VOCAB, CODES, LEVELS = 16, 32, 4


def parts(codebook: int = CODES, levels: int = LEVELS, window: float = 1.0):
    torch.manual_seed(0)
    shape = TransformerConfig(dim=32, depth=1, heads=2, max_seq_len=512)
    tokenizer = SemanticTokenizer.mfcc(torch.randn(VOCAB, 39))
    codec = SoundStream(SoundStreamConfig(channels=4, latent_dim=16, num_quantizers=LEVELS, codebook_size=CODES))
    semantic = SemanticLM(SemanticLMConfig(vocab_size=VOCAB, window_seconds=2.0, transformer=shape))
    acoustic = ParallelAcousticLM(ParallelAcousticLMConfig(semantic_vocab_size=VOCAB, codebook_size=codebook,
                                                           num_quantizers=levels, window_seconds=window,
                                                           steps_per_level=(4, 1), transformer=shape))
    return tokenizer, codec, semantic, acoustic


@pytest.fixture(scope="module")
def model():
    tokenizer, codec, semantic, acoustic = parts()
    return AudioLM(tokenizer, codec, semantic, acoustic=acoustic).eval()


@pytest.fixture
def prompt(sine_wave):
    return sine_wave(0.5, RATE, 330.0)


def test_parallel_generator_continues_audio_keeping_the_prompt(model, prompt):
    assert model.coarse_lm is None and model.num_quantizers == LEVELS
    wave, tokens = model.continue_audio(prompt, seconds=0.4, sample_rate=RATE, return_tokens=True,
                                        generator=torch.Generator().manual_seed(1))
    frames = tokens["prompt_frames"]
    assert tokens["codes"].shape == (1, LEVELS, frames + 20)
    assert torch.equal(tokens["codes"][..., :frames], model.codec.encode(prompt[None])[..., :frames])
    assert wave.shape == (1, 1, 20 * model.codec.hop_length) and torch.isfinite(wave).all()
    again = model.continue_audio(prompt, seconds=0.4, sample_rate=RATE, return_tokens=True,
                                 generator=torch.Generator().manual_seed(1))[1]
    other = model.continue_audio(prompt, seconds=0.4, sample_rate=RATE, return_tokens=True,
                                 generator=torch.Generator().manual_seed(2))[1]
    assert torch.equal(again["codes"], tokens["codes"]) and not torch.equal(other["codes"], tokens["codes"])
    # longer than the parallel model's 1 s window: generated in windows
    long = model.continue_audio(prompt, seconds=1.5, sample_rate=RATE, return_tokens=True, temperature=0.0)[1]
    assert long["codes"].shape == (1, LEVELS, frames + 75)


def test_acoustic_sampling_settings_reach_the_parallel_model(model, prompt, monkeypatch):
    seen = {}
    original = model.acoustic.generate

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(model.acoustic, "generate", spy)
    model.continue_audio(prompt, seconds=0.2, sample_rate=RATE, top_k=5, generator=torch.Generator().manual_seed(0))
    assert seen["top_k"] == 5 and seen["temperature"] == model.config.acoustic.temperature


def test_save_load_round_trip_with_its_own_sub_folder(model, prompt, tmp_path):
    model.save_pretrained(tmp_path / "lm")
    folders = sorted(p.name for p in (tmp_path / "lm").iterdir() if p.is_dir())
    assert folders == ["acoustic_lm", "codec", "semantic_lm", "semantic_tokenizer"]
    meta = json.loads((tmp_path / "lm" / "config.json").read_text())
    assert meta["acoustic"] == {"class": "audiolm_lib.lm.parallel.ParallelAcousticLM", "components": ["acoustic_lm"]}
    loaded = AudioLM.from_pretrained(tmp_path / "lm")
    assert isinstance(loaded.acoustic, ParallelAcousticLM)
    run = lambda m: m.continue_audio(prompt, seconds=0.3, sample_rate=RATE,  # noqa: E731
                                     generator=torch.Generator().manual_seed(4))
    assert torch.equal(run(loaded), run(model))
    (tmp_path / "lm" / "acoustic_lm" / "model.safetensors").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="acoustic_lm"):
        AudioLM.from_pretrained(tmp_path / "lm")


def test_default_pipeline_is_still_coarse_plus_fine(tmp_path):
    from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig

    tokenizer, codec, semantic, _ = parts()
    shape = TransformerConfig(dim=32, depth=1, heads=2, max_seq_len=512)
    coarse = CoarseLM(CoarseLMConfig(semantic_vocab_size=VOCAB, codebook_size=CODES, num_coarse_quantizers=2,
                                     window_seconds=1.0, transformer=shape))
    fine = FineLM(FineLMConfig(codebook_size=CODES, num_coarse_quantizers=2, num_fine_quantizers=2,
                               window_seconds=0.5, transformer=shape))
    default = AudioLM(tokenizer, codec, semantic, coarse, fine)
    assert isinstance(default.acoustic, HierarchicalAcoustic) and default.num_coarse == 2 and default.num_fine == 2
    default.save_pretrained(tmp_path / "lm")
    meta = json.loads((tmp_path / "lm" / "config.json").read_text())
    assert set(meta["components"]) == {"semantic_tokenizer", "codec", "semantic_lm", "coarse_lm", "fine_lm"}
    del meta["acoustic"]  # a folder written before generators were pluggable still loads
    (tmp_path / "lm" / "config.json").write_text(json.dumps(meta))
    assert isinstance(AudioLM.from_pretrained(tmp_path / "lm").acoustic, HierarchicalAcoustic)


def test_mismatched_parallel_model_is_refused():
    tokenizer, codec, semantic, _ = parts()
    for bad, what in [(parts(codebook=64)[3], "codebook size"), (parts(levels=6)[3], "RVQ levels")]:
        with pytest.raises(CheckpointError, match=what):
            AudioLM(tokenizer, codec, semantic, acoustic=bad)
    with pytest.raises(ValueError, match="not both"):
        AudioLM(tokenizer, codec, semantic, semantic, semantic, acoustic=parts()[3])
    with pytest.raises(ValueError, match="acoustic="):
        AudioLM(tokenizer, codec, semantic)


def test_train_parallel_and_assemble(tmp_path, prompt):
    from audiolm_lib.training.config import StageTrainConfig
    from audiolm_lib.training.data import InMemoryTokenCache
    from audiolm_lib.training.trainer import train_stage

    cache = InMemoryTokenCache.random(6, 1.2, num_quantizers=LEVELS, valid_items=1, codebook_size=CODES,
                                      semantic_vocab_size=VOCAB)
    config = StageTrainConfig(stage="parallel", model={"transformer": {"dim": 32, "depth": 1, "heads": 2,
                                                                        "max_seq_len": 128}},
                              crop_seconds=1.0, batch_size=2, steps=3, warmup_steps=1, eval_every=3,
                              sample_every=3, checkpoint_every=3, device="cpu", progress=False,
                              tensorboard=False)
    exported = train_stage(config, cache, tmp_path / "parallel")
    trained = ParallelAcousticLM.from_pretrained(exported)
    assert trained.num_quantizers == LEVELS and trained.codebook_size == CODES and trained.window == 50
    assert (tmp_path / "parallel" / "samples").exists()
    tokenizer, codec, semantic, _ = parts()
    for name, part in (("tokenizer", tokenizer), ("codec", codec), ("semantic", semantic)):
        part.save_pretrained(tmp_path / name)
    runner = CliRunner()
    common = ["assemble", str(tmp_path / "lm"), "--tokenizer", str(tmp_path / "tokenizer"), "--codec",
              str(tmp_path / "codec"), "--semantic", str(tmp_path / "semantic")]
    result = runner.invoke(build_app(), common + ["--acoustic", str(tmp_path / "parallel")])
    assert result.exit_code == 0, result.output
    assert "ParallelAcousticLM" in result.output
    assert isinstance(AudioLM.from_pretrained(tmp_path / "lm").acoustic, ParallelAcousticLM)
    result = runner.invoke(build_app(), common + ["--acoustic", str(tmp_path / "parallel"), "--coarse", "x"])
    assert result.exit_code != 0 and "not both" in result.output


def test_int8_copy_generates_and_leaves_the_original_alone(model, prompt):
    quantized = model.quantize_int8()
    assert quantized.codec is model.codec and type(model.semantic_lm.transformer.blocks[0].qkv) is torch.nn.Linear
    assert type(quantized.acoustic.transformer.blocks[0].qkv).__module__.startswith("torch.ao.nn.quantized")
    wave, tokens = quantized.continue_audio(prompt, seconds=0.3, sample_rate=RATE, return_tokens=True,
                                            generator=torch.Generator().manual_seed(0))
    assert wave.shape == (1, 1, 15 * model.codec.hop_length)
    assert torch.equal(tokens["codes"][..., : tokens["prompt_frames"]],
                       model.codec.encode(prompt[None])[..., : tokens["prompt_frames"]])


def test_preferred_int8_quantises_only_the_parallel_model(model):
    preferred = model.quantize_int8("preferred")
    assert type(preferred.semantic_lm.transformer.blocks[0].qkv) is torch.nn.Linear
    assert type(preferred.acoustic.transformer.blocks[0].qkv) is not torch.nn.Linear
    tokenizer, codec, semantic, _ = parts()
    from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig

    shape = TransformerConfig(dim=32, depth=1, heads=2, max_seq_len=512)
    pair = AudioLM(tokenizer, codec, semantic,
                   CoarseLM(CoarseLMConfig(semantic_vocab_size=VOCAB, codebook_size=CODES, num_coarse_quantizers=2,
                                           window_seconds=1.0, transformer=shape)),
                   FineLM(FineLMConfig(codebook_size=CODES, num_coarse_quantizers=2, num_fine_quantizers=2,
                                       window_seconds=0.5, transformer=shape)))
    assert pair.quantize_int8("preferred") is pair  # small sequential stages measured slower in int8
    with pytest.raises(ValueError, match="which"):
        model.quantize_int8("some")
