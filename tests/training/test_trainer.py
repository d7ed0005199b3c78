import math

import pytest
import torch

from audiolm_lib.lm.stages import CoarseLM, FineLM, SemanticLM
from audiolm_lib.serialization import CheckpointError
from audiolm_lib.training.config import StageTrainConfig, load_stage_config
from audiolm_lib.training.data import InMemoryTokenCache
from audiolm_lib.training.metrics import read_metrics
from audiolm_lib.training.state import list_checkpoints
from audiolm_lib.training.trainer import StageTrainer, train_stage

TINY_MODEL = {"transformer": {"dim": 16, "depth": 1, "heads": 2, "max_seq_len": 512, "dropout": 0.1}}


def _cache(**kwargs):
    return InMemoryTokenCache.random(8, 2.0, num_quantizers=6, semantic_vocab_size=32, codebook_size=64,
                                     valid_items=2, **kwargs)


def _config(stage="semantic", **overrides):
    fields = dict(stage=stage, crop_seconds=0.5, batch_size=2, steps=8, warmup_steps=2, log_every=1,
                  eval_every=4, sample_every=8, checkpoint_every=3, progress=False, tensorboard=False,
                  lr=3e-3, model=TINY_MODEL)
    fields.update(overrides)
    return StageTrainConfig(**fields)


def _train_log(directory, split="train", key="loss"):
    return [(row["step"], row[key]) for row in read_metrics(directory) if row["split"] == split]


def test_killed_run_resumes_to_the_same_loss_curve(tmp_path):
    cache, config = _cache(), _config()
    full = StageTrainer(config, cache, tmp_path / "full")
    full.train()
    # "kill" after step 5 with checkpoints at 3 and 5, the step-5 one cut short (disk full): resume falls back
    # to step 3 (saying so) and must redo 4..8
    StageTrainer(config, cache, tmp_path / "killed").train(max_steps=5)
    assert [p.name for p in list_checkpoints(tmp_path / "killed")] == ["step_00000003.safetensors", "step_00000005.safetensors"]
    newest = list_checkpoints(tmp_path / "killed")[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    with (tmp_path / "killed" / "metrics.jsonl").open("a") as log:
        log.write('{"step": 6, "split": "tr')  # the killed run's torn last metrics line
    with pytest.warns(UserWarning) as warned:
        resumed = StageTrainer(config, cache, tmp_path / "killed", resume=True)
    messages = " ".join(str(w.message) for w in warned)
    assert "skipping training checkpoint" in messages and newest.name in messages
    assert "metrics.jsonl" in messages and "torn" in messages
    assert resumed.step == 3
    resumed.train()
    expected = _train_log(tmp_path / "full")
    assert [s for s, _ in expected] == list(range(1, 9))
    assert _train_log(tmp_path / "killed") == expected  # exactly equal floats, no duplicated steps
    assert _train_log(tmp_path / "killed", "valid", "ema_loss") == _train_log(tmp_path / "full", "valid", "ema_loss")
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert len({round(loss, 6) for _, loss in expected}) > 1  # the run actually trained


@pytest.mark.parametrize("stage", ["coarse", "fine"])
def test_grad_accumulation_equals_one_big_batch(tmp_path, stage):
    model = dict(TINY_MODEL, transformer=dict(TINY_MODEL["transformer"], dropout=0.0))
    grads = {}
    for name, batch, accumulation in (("big", 4, 1), ("micro", 2, 2)):
        trainer = StageTrainer(_config(stage, batch_size=batch, grad_accumulation=accumulation, model=model),
                               _cache(), tmp_path / name)

        def capture(optimizer, args, kwargs, _name=name, _trainer=trainer):
            grads[_name] = [p.grad.clone() for p in _trainer.model.parameters()]

        trainer.optimizer.register_step_pre_hook(capture)
        grads[name + "_loss"] = float(trainer.train_step()["loss"])
    assert grads["big_loss"] == pytest.approx(grads["micro_loss"], rel=1e-5)
    assert len(grads["big"]) == len(grads["micro"]) > 0
    for big, micro in zip(grads["big"], grads["micro"]):
        torch.testing.assert_close(micro, big, rtol=1e-4, atol=1e-6)
    assert any(g.abs().sum() > 0 for g in grads["big"])


def test_ema_model_is_exported_and_loads(tmp_path):
    trainer = StageTrainer(_config("coarse", ema_decay=0.9, ema_warmup_steps=0), _cache(), tmp_path)
    exported = trainer.train()
    loaded = CoarseLM.from_pretrained(exported)
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, trainer.ema.shadow.state_dict()[name])
    raw = trainer.model.state_dict()
    assert any(not torch.equal(tensor, raw[name]) for name, tensor in loaded.state_dict().items())
    last_valid = [row for row in read_metrics(tmp_path) if row["split"] == "valid"][-1]
    assert last_valid["step"] == 8
    assert trainer.validation_loss(loaded) == pytest.approx(last_valid["ema_loss"], rel=1e-6)
    assert (tmp_path / "samples" / "step_00000008.json").exists()
    assert (tmp_path / "train_config.json").exists() and (tmp_path / "metrics_train.csv").exists()


def test_learning_rate_follows_warmup_then_cosine(tmp_path):
    config = _config("fine", steps=6, warmup_steps=2, lr=1e-2, min_lr_ratio=0.1)
    StageTrainer(config, _cache(), tmp_path).train()
    lrs = [lr for _, lr in _train_log(tmp_path, key="lr")]
    expected = [0.005, 0.01] + [1e-2 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / 4))) for k in range(4)]
    assert lrs == pytest.approx(expected, rel=1e-9)
    assert all(norm > 0 for _, norm in _train_log(tmp_path, key="grad_norm"))


def test_gradients_are_clipped_to_grad_clip(tmp_path):
    trainer = StageTrainer(_config("coarse", grad_clip=1e-3), _cache(), tmp_path)
    norms = []
    trainer.optimizer.register_step_pre_hook(
        lambda *_: norms.append(float(torch.cat([p.grad.flatten() for p in trainer.model.parameters()]).norm())))
    stats = trainer.train_step()
    assert float(stats["grad_norm"]) > 1e-2  # the logged norm is the one before clipping
    assert norms[0] == pytest.approx(1e-3, rel=1e-3)


def test_checkpoint_problems_give_clear_errors(tmp_path):
    cache, config = _cache(), _config(steps=3)
    with pytest.raises(CheckpointError, match="no training checkpoint"):
        StageTrainer(config, cache, tmp_path, resume=True)
    StageTrainer(config, cache, tmp_path).train()
    with pytest.raises(ValueError, match="already holds training checkpoints"):
        StageTrainer(config, cache, tmp_path)
    bigger = dict(TINY_MODEL, transformer=dict(TINY_MODEL["transformer"], dim=32))
    with pytest.raises(CheckpointError, match="does not match"):
        StageTrainer(_config(steps=3, model=bigger), cache, tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="'semantic' training run, not 'fine'"):
        StageTrainer(_config("fine", steps=3), cache, tmp_path, resume=True)
    list_checkpoints(tmp_path)[-1].write_bytes(b"not a checkpoint")  # the only one: nothing to fall back to
    with pytest.warns(UserWarning, match="skipping training checkpoint"), \
            pytest.raises(CheckpointError, match="no readable training checkpoint.*corrupt"):
        StageTrainer(config, cache, tmp_path, resume=True)


def test_model_config_comes_from_cache_and_bad_settings_are_named(tmp_path):
    cache = _cache()
    trainer = StageTrainer(_config("fine", steps=1), cache, tmp_path / "fine")
    assert isinstance(trainer.model, FineLM)
    assert (trainer.model.config.codebook_size, trainer.model.config.num_fine_quantizers) == (64, 2)
    assert trainer.model.config.window_seconds == 0.5
    with pytest.raises(ValueError, match="exceeds the semantic model's window_seconds"):
        StageTrainer(_config(model=dict(TINY_MODEL, window_seconds=0.25)), cache, tmp_path / "a")
    with pytest.raises(ValueError, match="32 semantic tokens but the semantic model's vocabulary holds only 16"):
        StageTrainer(_config(model=dict(TINY_MODEL, vocab_size=16)), cache, tmp_path / "b")
    with pytest.raises(ValueError, match="unknown stage"):
        StageTrainConfig(stage="medium")


def test_bf16_autocast_step_on_cpu(tmp_path):
    trainer = StageTrainer(_config(precision="bf16", steps=2), _cache(), tmp_path)
    assert trainer.autocast_dtype == torch.bfloat16
    stats = trainer.train_step()
    assert math.isfinite(float(stats["loss"])) and abs(float(stats["loss"]) - math.log(32)) < 0.5


def test_train_stage_and_yaml_config_with_overrides(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("stage: coarse\nbatch_size: 3\nmodel:\n  transformer: {dim: 16, depth: 1, heads: 2}\n")
    config = load_stage_config(path, ["model.transformer.max_seq_len=512", "lr=1e-3", "betas=[0.8,0.9]"],
                               stage="semantic", steps=2)
    assert (config.stage, config.batch_size, config.lr, config.betas, config.steps) == ("semantic", 3, 1e-3, (0.8, 0.9), 2)
    assert config.model["transformer"] == {"dim": 16, "depth": 1, "heads": 2, "max_seq_len": 512}
    with pytest.raises(ValueError, match="unknown field 'learning_rate'"):
        load_stage_config(None, ["learning_rate=1"])
    config = load_stage_config(None, ["crop_seconds=0.5", "progress=false", "tensorboard=false"], stage="semantic",
                               steps=2, model=TINY_MODEL)
    exported = train_stage(config, _cache(), tmp_path / "run")
    assert isinstance(SemanticLM.from_pretrained(exported), SemanticLM)
    assert [step for step, _ in _train_log(tmp_path / "run")] == [2]  # log_every 10: the last step is logged


def test_export_records_the_tokenizer_and_codec_behind_the_tokens(tmp_path):
    import json

    cache = _cache()
    cache.provenance = {"semantic_tokenizer": {"class": "audiolm_lib.semantic.tokenizer.SemanticTokenizer",
                                               "features": "logmel", "weights_sha1": "ab"},
                        "codec": {"class": "audiolm_lib.codecs.soundstream.SoundStream", "weights_sha1": "cd"}}
    exported = StageTrainer(_config("coarse", steps=2, checkpoint_every=2), cache, tmp_path / "c").train()
    assert json.loads((exported / "config.json").read_text())["trained_on"] == cache.provenance
    assert CoarseLM.from_pretrained(exported).trained_on == cache.provenance
    # the semantic stage never sees codec tokens: only the tokenizer is recorded, so any codec goes with it
    exported = StageTrainer(_config(steps=2, checkpoint_every=2), cache, tmp_path / "s").train()
    semantic_only = {"semantic_tokenizer": cache.provenance["semantic_tokenizer"]}
    assert SemanticLM.from_pretrained(exported).trained_on == semantic_only


def test_early_stopping_keeps_the_best_ema_weights(tmp_path):
    # random tokens: nothing generalises, so the validation loss soon stops improving while training memorises
    cache = _cache()
    config = _config(steps=200, eval_every=2, checkpoint_every=50, lr=2e-2, ema_decay=0.5,
                     ema_warmup_steps=1, early_stopping_patience=3, sample_every=None)
    trainer = StageTrainer(config, cache, tmp_path / "run")
    trainer.train()
    valid = _train_log(tmp_path / "run", "valid", "ema_loss")
    assert trainer.step < 200  # stopped early
    best_step, best_loss = min(valid, key=lambda row: row[1])
    assert trainer.best["step"] == best_step and trainer.best["loss"] == pytest.approx(best_loss)
    assert [step for step, _ in valid][-1] - best_step == 3 * 2  # three validations without improvement
    exported = SemanticLM.from_pretrained(tmp_path / "run" / "model")
    assert trainer.validation_loss(exported) == pytest.approx(best_loss, rel=1e-5)  # model/ is the best, not the last
    # the early-stopping state survives a resume
    resumed = StageTrainer(config, cache, tmp_path / "run", resume=True)
    assert resumed.best == trainer.best


def test_budget_minutes_stops_with_a_checkpoint(tmp_path):
    config = _config(steps=10**6, budget_minutes=1e-6, checkpoint_every=10**6, eval_every=10**6,
                     sample_every=None)
    trainer = StageTrainer(config, _cache(), tmp_path / "run")
    trainer.train()
    assert trainer.step == 1 and [p.name for p in list_checkpoints(tmp_path / "run")] == ["step_00000001.safetensors"]


def test_init_from_starts_from_a_trained_model_and_refuses_another_shape(tmp_path):
    first = StageTrainer(_config("coarse", steps=4), _cache(), tmp_path / "first").train()
    trained = CoarseLM.from_pretrained(first)
    tuned = StageTrainer(_config("coarse", steps=4, init_from=str(first)), _cache(), tmp_path / "tuned")
    for name, tensor in trained.state_dict().items():  # the run starts at the trained weights
        assert torch.equal(tuned.model.state_dict()[name].cpu(), tensor), name
    fresh = StageTrainer(_config("coarse", steps=4), _cache(), tmp_path / "fresh")
    assert any(not torch.equal(fresh.model.state_dict()[n], t) for n, t in trained.state_dict().items())
    tuned.train()
    assert _train_log(tmp_path / "tuned")[0][1] < _train_log(tmp_path / "first")[0][1]  # a head start on this data
    wider = dict(TINY_MODEL, transformer=dict(TINY_MODEL["transformer"], dim=32))
    with pytest.raises(CheckpointError, match="do not fit the configured model"):
        StageTrainer(_config("coarse", init_from=str(first), model=wider), _cache(), tmp_path / "wider")
    with pytest.raises(CheckpointError, match="not a FineLM"):
        StageTrainer(_config("fine", init_from=str(first)), _cache(), tmp_path / "fine")
