"""checkpoints/make_checkpoints.py stage-tune: a recipe's tune legs run in order, each from the previous leg's model,
a finished leg (or one put in place by hand) is skipped, and assemble ships the last leg's model."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tiny_config(depth: int = 1):
    """A parallel generator's config small enough to build, save and average in milliseconds."""
    from audiolm_lib.lm.parallel import ParallelAcousticLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig

    return ParallelAcousticLMConfig(semantic_vocab_size=8, codebook_size=8, num_quantizers=2, window_seconds=1.0,
                                    transformer=TransformerConfig(dim=16, depth=depth, heads=2, max_seq_len=64))


@pytest.fixture
def make_checkpoints(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("make_checkpoints", ROOT / "checkpoints" / "make_checkpoints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    legs = [{"data": ["speech", "recorded"], "steps": 30, "lr": 3e-4},
            {"data": ["speech"], "steps": 50, "lr": 1e-4, "prompt_elsewhere": 0.5, "model": {"prompt_dropout": 0.1}}]
    stage = {"stage": "parallel", "steps": 100, "model": {"window_seconds": 6.0}, "continue_to_steps": [200],
             "tune": legs}
    monkeypatch.setattr(module, "recipe", lambda kind: {"stages": {"parallel": stage}})
    caches = []
    monkeypatch.setattr(module, "build_cache", lambda work, kind, codec, out, data_sets: caches.append(
        (out.name, tuple(data_sets))) or out)
    monkeypatch.setattr(module, "shipped_codec", lambda work: work / "codec")
    runs = []

    def fake_train(config, cache, out, resume=False, max_steps=None):
        runs.append({"out": out.name, "init_from": config.init_from, "steps": config.steps, "lr": config.lr,
                     "max_steps": max_steps,
                     "prompt_elsewhere": config.prompt_elsewhere, "resume": resume, "cache": Path(cache).name,
                     "prompt_dropout": config.model.get("prompt_dropout"), "model": config.model})
        (out / "model").mkdir(parents=True, exist_ok=True)
        (out / "model" / "config.json").write_text("{}")
        (out / f"step_{min(config.steps, max_steps or config.steps):08d}.safetensors").write_text("")

    import audiolm_lib.training.trainer as trainer

    monkeypatch.setattr(trainer, "train_stage", fake_train)
    module.runs, module.caches = runs, caches
    return module


def test_legs_run_in_order_each_from_the_previous_model(make_checkpoints, tmp_path):
    work = tmp_path / "w"
    make_checkpoints.tune_stage(work, "speech", "parallel", None)
    first, second = make_checkpoints.runs
    assert first["out"] == "stage_parallel_tune" and second["out"] == "stage_parallel_tune2"
    assert first["init_from"] == str(work / "speech" / "stage_parallel" / "model")
    assert second["init_from"] == str(work / "speech" / "stage_parallel_tune" / "model")
    assert (first["steps"], first["lr"], second["steps"], second["lr"]) == (30, 3e-4, 50, 1e-4)
    assert second["prompt_elsewhere"] == 0.5 and second["prompt_dropout"] == 0.1 and first["prompt_dropout"] is None
    assert [cache for cache, _ in make_checkpoints.caches] == ["tokens_speech_recorded", "tokens"]  # own data: own cache
    assert make_checkpoints.stage_model_dir(work, "speech", "parallel") == work / "speech" / "stage_parallel_tune2" / "model"


def test_finished_legs_are_skipped_and_a_leg_put_in_place_by_hand_counts_as_done(make_checkpoints, tmp_path):
    work = tmp_path / "w"
    by_hand = work / "speech" / "stage_parallel_tune" / "model"
    by_hand.mkdir(parents=True)
    (by_hand / "config.json").write_text("{}")
    make_checkpoints.tune_stage(work, "speech", "parallel", None)
    assert [run["out"] for run in make_checkpoints.runs] == ["stage_parallel_tune2"]
    make_checkpoints.tune_stage(work, "speech", "parallel", None)  # everything finished: nothing runs again
    assert len(make_checkpoints.runs) == 1


def test_an_interrupted_leg_resumes(make_checkpoints, tmp_path):
    work = tmp_path / "w"
    partial = work / "speech" / "stage_parallel_tune"
    partial.mkdir(parents=True)
    (partial / "step_00000010.safetensors").write_text("")
    make_checkpoints.tune_stage(work, "speech", "parallel", None)
    assert make_checkpoints.runs[0]["out"] == "stage_parallel_tune" and make_checkpoints.runs[0]["resume"] is True
    assert make_checkpoints.runs[1]["resume"] is False


def test_stop_after_ends_a_leg_early_on_its_own_schedule(make_checkpoints, monkeypatch, tmp_path):
    work = tmp_path / "w"
    legs = [{"data": ["speech"], "steps": 50, "stop_after": 20}, {"data": ["speech"], "steps": 10}]
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"stages": {"parallel": {"tune": legs}}})
    make_checkpoints.tune_stage(work, "speech", "parallel", None)
    first, second = make_checkpoints.runs
    assert (first["steps"], first["max_steps"], second["max_steps"]) == (50, 20, None)
    make_checkpoints.runs.clear()
    import shutil

    shutil.rmtree(work / "speech" / "stage_parallel_tune2")  # as if leg 2 never started
    make_checkpoints.tune_stage(work, "speech", "parallel", None)
    assert [run["out"] for run in make_checkpoints.runs] == ["stage_parallel_tune2"]  # leg 1 stopped at 20: done


def test_one_leg_as_a_mapping_still_reads(make_checkpoints, monkeypatch):
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"stages": {"parallel": {"tune": {"data": ["piano"],
                                                                                                    "steps": 5}}}})
    assert make_checkpoints.tune_legs("piano", "parallel") == [{"data": ["piano"], "steps": 5}]
    assert make_checkpoints.tune_dir(Path("w"), "piano", "parallel", 2).name == "stage_parallel_tune3"


def test_every_data_set_is_built_by_an_audiolm_data_command_with_those_options(make_checkpoints):
    from typer.testing import CliRunner

    from audiolm_lib.cli import build_app

    runner = CliRunner()
    for name, (folder, arguments) in make_checkpoints.DATA_SETS.items():
        result = runner.invoke(build_app(), ["data", arguments[0], "--help"])
        assert result.exit_code == 0, (name, result.output)
        for option in (argument for argument in arguments[1:] if argument.startswith("--")):
            assert option in result.output, (name, option)


def test_the_shipped_recipes_name_known_data_sets(make_checkpoints):
    spec = importlib.util.spec_from_file_location("fresh", ROOT / "checkpoints" / "make_checkpoints.py")
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    from audiolm_lib.training.config import StageTrainConfig

    plan_keys = {"data", "stop_after", "from_average", "deepen_to", "transfer_semantic_from"}
    for path in sorted((ROOT / "checkpoints" / "recipes").glob("*.json")):  # every recipe, experiments included
        fresh.RECIPE_FOR_KIND["any"] = path.stem
        for stage in fresh.recipe("any").get("stages", {}):
            assert set(fresh.recipe("any")["stages"][stage].get("data", [])) <= set(fresh.DATA_SETS), (path.name, stage)
            for leg in fresh.tune_legs("any", stage):
                assert set(leg["data"]) <= set(fresh.DATA_SETS) and leg["steps"] > 0, (path.name, stage)
                fields = {k: v for k, v in leg.items() if k not in plan_keys and k != "model"}
                StageTrainConfig(stage=stage, **fields)  # every leg setting is a valid training setting
    assert json.loads((ROOT / "checkpoints" / "recipes" / "piano_chroma.json").read_text())["tokenizer"]["features"] == "chroma"
    fresh.RECIPE_FOR_KIND["piano"] = "piano_chroma"
    assert fresh.recipe("piano")["tokenizer"]["features"] == "chroma"
    assert fresh.tune_legs("piano", "parallel")[0]["stop_after"] == 1600


def test_average_tune_legs_ships_the_mean_of_the_named_legs(make_checkpoints, monkeypatch, tmp_path):
    import torch

    from audiolm_lib.lm.parallel import ParallelAcousticLM

    work = tmp_path / "w"
    config = _tiny_config()
    models = []
    for leg in (1, 2):
        torch.manual_seed(leg)
        model = ParallelAcousticLM(config)
        model.save_pretrained(make_checkpoints.tune_dir(work, "speech", "parallel", leg - 1) / "model")
        models.append(model)
    stage = {"tune": [{"data": ["speech"], "steps": 5}] * 2, "average_tune_legs": [1, 2]}
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"stages": {"parallel": stage}})
    shipped = make_checkpoints.stage_model_dir(work, "speech", "parallel")
    assert shipped == work / "speech" / "stage_parallel_average" / "model"
    from audiolm_lib.serialization import load_pretrained

    mean = load_pretrained(shipped).state_dict()
    for key, value in mean.items():
        expected = (models[0].state_dict()[key] + models[1].state_dict()[key]) / 2
        assert torch.allclose(value, expected, atol=1e-6), key
    stage["average_tune_legs"] = None
    assert make_checkpoints.stage_model_dir(work, "speech", "parallel").parent.name == "stage_parallel_tune2"
    # leg 0: the stage's own model, before any tune leg (here: the first leg's weights put there)
    stage["average_tune_legs"] = [0, 2]
    other = tmp_path / "w2"
    for leg in (1, 2):
        load_pretrained(make_checkpoints.tune_dir(work, "speech", "parallel", leg - 1) / "model").save_pretrained(
            make_checkpoints.tune_dir(other, "speech", "parallel", leg - 1) / "model")
    models[0].save_pretrained(other / "speech" / "stage_parallel" / "model")
    mean = load_pretrained(make_checkpoints.stage_model_dir(other, "speech", "parallel")).state_dict()
    assert all(torch.allclose(value, (models[0].state_dict()[key] + models[1].state_dict()[key]) / 2, atol=1e-6)
               for key, value in mean.items())


def test_transfer_semantic_from_starts_the_leg_from_a_carried_over_embedding(make_checkpoints, monkeypatch, tmp_path):
    import torch

    import audiolm_lib.training.vocab_transfer as vocab_transfer
    from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig
    from audiolm_lib.serialization import load_pretrained

    work = tmp_path / "w"
    model = ParallelAcousticLM(ParallelAcousticLMConfig(
        semantic_vocab_size=4, codebook_size=8, num_quantizers=2, window_seconds=1.0,
        transformer=TransformerConfig(dim=8, depth=1, heads=2, max_seq_len=64)))
    model.save_pretrained(work / "piano" / "stage_parallel" / "model")
    flip = torch.eye(4, dtype=torch.float64).flip(0)
    monkeypatch.setattr(vocab_transfer, "token_cooccurrence", lambda old, new, files: flip)
    monkeypatch.setattr(make_checkpoints, "fit_tokenizer", lambda work, kind: "new")
    monkeypatch.setattr(make_checkpoints, "split_files", lambda manifests, split: [])
    monkeypatch.setattr(make_checkpoints, "manifest", lambda work, name: None)
    import audiolm_lib.semantic.tokenizer as tokenizer

    monkeypatch.setattr(tokenizer.SemanticTokenizer, "from_pretrained", classmethod(lambda cls, path: torch.nn.Identity()))
    legs = [{"data": ["piano"], "steps": 5, "transfer_semantic_from": "checkpoints/piano/semantic_tokenizer"}]
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"stages": {"parallel": {"tune": legs}}})
    make_checkpoints.tune_stage(work, "piano", "parallel", None)
    start = make_checkpoints.runs[0]["init_from"]
    assert start == str(work / "piano" / "stage_parallel_tune" / "init_model")
    carried = load_pretrained(start).semantic_embedding.weight
    assert torch.allclose(carried, model.semantic_embedding.weight.flip(0))


def test_a_leg_from_the_average_starts_from_the_soup_and_ships_itself(make_checkpoints, monkeypatch, tmp_path):
    import torch

    from audiolm_lib.lm.parallel import ParallelAcousticLM

    work = tmp_path / "w"
    config = _tiny_config()
    for leg in (1, 2):
        torch.manual_seed(leg)
        leg_dir = make_checkpoints.tune_dir(work, "speech", "parallel", leg - 1)
        ParallelAcousticLM(config).save_pretrained(leg_dir / "model")
    legs = [{"data": ["speech"], "steps": 5}] * 2 + [{"data": ["speech"], "steps": 7, "from_average": True}]
    stage = {"tune": legs, "average_tune_legs": [1, 2]}
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"stages": {"parallel": stage}})
    average = work / "speech" / "stage_parallel_average" / "model"
    assert make_checkpoints.stage_model_dir(work, "speech", "parallel") == average  # leg 3 not run yet
    make_checkpoints.tune_stage(work, "speech", "parallel", None)
    (run,) = make_checkpoints.runs  # legs 1 and 2 were put in place: only leg 3 runs, from their mean
    assert run["init_from"] == str(average) and run["out"] == "stage_parallel_tune3" and run["steps"] == 7
    shipped = make_checkpoints.stage_model_dir(work, "speech", "parallel")
    assert shipped == work / "speech" / "stage_parallel_tune3" / "model"
    stage["average_tune_legs"] = [1, 3]  # a leg cannot start from a mean that includes itself
    with pytest.raises(SystemExit, match="from_average"):
        make_checkpoints.tune_stage(tmp_path / "other", "speech", "parallel", None)


def test_a_leg_from_a_listed_average_and_a_shipped_mean_that_includes_it(make_checkpoints, monkeypatch, tmp_path):
    """``from_average: [0, 1]``: leg 2 starts from the mean of the stage's own model and leg 1, and the recipe ships
    the mean of all three (``average_tune_legs: [0, 1, 2]``); an average folder made of other legs is made again."""
    import torch

    from audiolm_lib.lm.parallel import ParallelAcousticLM
    from audiolm_lib.serialization import load_pretrained

    work = tmp_path / "w"
    config = _tiny_config()
    states = []
    for seed, folder in enumerate(["stage_parallel", "stage_parallel_tune"]):
        torch.manual_seed(seed)
        model = ParallelAcousticLM(config)
        model.save_pretrained(work / "piano" / folder / "model")
        states.append(model.state_dict())
    legs = [{"data": ["piano"], "steps": 5}, {"data": ["piano"], "steps": 7, "from_average": [0, 1]}]
    stage = {"tune": legs, "average_tune_legs": [0, 1]}
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"stages": {"parallel": stage}})
    stale = make_checkpoints.stage_model_dir(work, "piano", "parallel")  # the mean of 0 and 1, before leg 2
    make_checkpoints.tune_stage(work, "piano", "parallel", None)
    (run,) = make_checkpoints.runs
    start = work / "piano" / "stage_parallel_start2" / "model"
    assert run["init_from"] == str(start) and run["out"] == "stage_parallel_tune2"
    torch.manual_seed(5)
    third = ParallelAcousticLM(config)
    third.save_pretrained(work / "piano" / "stage_parallel_tune2" / "model")  # what the leg would have made
    states.append(third.state_dict())
    stage["average_tune_legs"] = [0, 1, 2]
    shipped = make_checkpoints.stage_model_dir(work, "piano", "parallel")
    assert shipped == stale  # the same folder, averaged again from the three
    mean = load_pretrained(shipped).state_dict()
    assert all(torch.allclose(value, sum(s[key] for s in states) / 3, atol=1e-6) for key, value in mean.items())
    assert all(torch.allclose(value, (states[0][key] + states[1][key]) / 2, atol=1e-6)
               for key, value in load_pretrained(start).state_dict().items())
    legs[1]["from_average"] = [0, 2]  # a leg cannot start from a mean that includes itself
    with pytest.raises(SystemExit, match="from_average"):
        make_checkpoints.tune_stage(tmp_path / "other", "piano", "parallel", None)


def test_deepen_to_starts_the_leg_from_a_deeper_copy_of_its_start(make_checkpoints, monkeypatch, tmp_path):
    import torch

    from audiolm_lib.lm.parallel import ParallelAcousticLM
    from audiolm_lib.serialization import load_pretrained

    work = tmp_path / "w"
    config = _tiny_config()
    torch.manual_seed(0)
    ParallelAcousticLM(config).save_pretrained(work / "piano" / "stage_parallel" / "model")
    legs = [{"data": ["piano"], "steps": 5, "deepen_to": 3}]
    stage = {"model": {"window_seconds": 1.0, "transformer": {"dim": 16, "depth": 1, "heads": 2}}, "tune": legs}
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"stages": {"parallel": stage}})
    make_checkpoints.tune_stage(work, "piano", "parallel", None)
    (run,) = make_checkpoints.runs
    start = work / "piano" / "stage_parallel_tune" / "deepened_model"
    assert run["init_from"] == str(start)
    assert load_pretrained(start).config.transformer.depth == 3
    # the leg's model is configured at the new depth (the rest of the transformer as the stage's)
    assert run["model"]["transformer"] == {"dim": 16, "depth": 3, "heads": 2}


def test_a_leg_that_turns_on_the_prompt_parts_starts_from_its_start_with_them_neutral(make_checkpoints, monkeypatch,
                                                                                       tmp_path):
    import torch

    from audiolm_lib.lm.parallel import ParallelAcousticLM
    from audiolm_lib.serialization import load_pretrained

    work = tmp_path / "w"
    torch.manual_seed(0)
    trained = ParallelAcousticLM(_tiny_config())
    trained.save_pretrained(work / "piano" / "stage_parallel" / "model")
    parts = {"prompt_summary": True, "prompt_prior_learned": True}
    stage = {"tune": [{"data": ["piano"], "steps": 5, "model": dict(parts)}]}
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"stages": {"parallel": stage}})
    make_checkpoints.tune_stage(work, "piano", "parallel", None)
    (run,) = make_checkpoints.runs
    start = work / "piano" / "stage_parallel_tune" / "extended_model"
    assert run["init_from"] == str(start) and run["model"]["prompt_summary"] is True
    extended = load_pretrained(start)
    assert extended.config.prompt_summary and extended.config.prompt_prior_learned
    ours = extended.state_dict()
    assert all(torch.equal(ours[key], value) for key, value in trained.state_dict().items())
    assert not ours["prompt_summary.out.weight"].any() and not ours["prompt_prior_scale"].any()
    # a start that has one already is used as it is
    assert make_checkpoints.extended_start(start, ["prompt_summary"], tmp_path / "again") == start


def test_a_later_legs_transformer_settings_override_the_stages_key_by_key(make_checkpoints, monkeypatch, tmp_path):
    stage = {"model": {"window_seconds": 6.0, "transformer": {"dim": 16, "depth": 1, "heads": 2}},
             "tune": [{"data": ["piano"], "steps": 5, "model": {"transformer": {"depth": 3}, "prompt_dropout": 0.1}}]}
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"stages": {"parallel": stage}})
    make_checkpoints.tune_stage(tmp_path / "w", "piano", "parallel", None)
    (run,) = make_checkpoints.runs
    assert run["model"]["transformer"] == {"dim": 16, "depth": 3, "heads": 2}
    assert run["model"]["window_seconds"] == 6.0 and run["model"]["prompt_dropout"] == 0.1


def test_deepen_to_fewer_blocks_is_refused_with_the_recipe_named(make_checkpoints, tmp_path):
    from audiolm_lib.lm.parallel import ParallelAcousticLM

    start = tmp_path / "start"
    ParallelAcousticLM(_tiny_config(depth=2)).save_pretrained(start)
    with pytest.raises(SystemExit, match="deepen_to 1 .*more blocks, not fewer"):
        make_checkpoints.deepened_start(start, 1, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_shipped_folders_carry_their_recipes_decoding_settings():
    """``assemble`` writes a recipe's ``acoustic_decoding`` / ``semantic_decoding`` into the stages' configs and its
    ``sampling`` / ``pipeline_decoding`` into the pipeline's: the shipped folders must hold what their recipes (chosen
    on validation data) say."""
    for kind in ("speech", "piano"):
        recipe = json.loads((ROOT / "checkpoints" / "recipes" / f"{kind}.json").read_text())
        folder = ROOT / "checkpoints" / kind
        for key, part in (("acoustic_decoding", "acoustic_lm"), ("semantic_decoding", "semantic_lm")):
            config = json.loads((folder / part / "config.json").read_text())["config"]
            for field, value in recipe.get(key, {}).items():
                assert config[field] == value, (kind, part, field)
        pipeline = json.loads((folder / "config.json").read_text())["config"]  # the pipeline's own (AudioLMConfig)
        for field, value in recipe.get("pipeline_decoding", {}).items():
            assert pipeline[field] == value, (kind, field)
        for stage, values in recipe.get("sampling", {}).items():
            for field, value in values.items():
                assert pipeline[stage][field] == value, (kind, stage, field)
    piano = json.loads((ROOT / "checkpoints" / "piano" / "semantic_lm" / "config.json").read_text())["config"]
    assert piano["guidance_scale"] == 3.0 and piano["prompt_prior"] == 0.5


class _SavedTokenizer:
    """What a monkeypatched ``fit_tokenizer`` returns: saving writes a config, as a real tokenizer's folder has."""

    def save_pretrained(self, out):
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")


def test_a_stages_own_run_on_other_data_sets_trains_on_their_cache(make_checkpoints, monkeypatch, tmp_path):
    stage = {"stage": "parallel", "steps": 40, "data": ["speech", "recorded", "recorded_speed"]}
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"stages": {"parallel": stage}})
    make_checkpoints.train_stage(tmp_path / "w", "speech", "parallel", None)
    (run,) = make_checkpoints.runs
    assert run["cache"] == "tokens_speech_recorded_recorded_speed" and run["steps"] == 40
    assert make_checkpoints.caches == [("tokens_speech_recorded_recorded_speed", ("speech", "recorded", "recorded_speed"))]
    make_checkpoints.runs.clear()
    make_checkpoints.train_stage(tmp_path / "w2", "speech", "parallel", None, cache=tmp_path / "given")
    assert make_checkpoints.runs[0]["cache"] == "given"  # --cache still wins


def test_a_hubert_tokenizer_trains_the_recipes_hubert_first_and_clusters_its_layer(make_checkpoints, monkeypatch,
                                                                                   tmp_path):
    import audiolm_lib.semantic.tokenizer as tokenizer_module
    import audiolm_lib.training.hubert as hubert

    tokenizer = {"features": "hubert", "clusters": 32, "layer": 3, "hubert_data": ["speech", "recorded"],
                 "hubert": {"steps": 7, "num_layers": 2}}
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"tokenizer": tokenizer})
    monkeypatch.setattr(make_checkpoints, "manifest", lambda work, name: Path(name))
    monkeypatch.setattr(make_checkpoints, "split_files", lambda manifests, split, language=None: [
        f"{m}/{split}/{language}" for m in manifests])
    trained, fitted = [], []
    monkeypatch.setattr(hubert, "train_hubert", lambda files, out, config: trained.append((files, config)) or (
        (out / "hubert").mkdir(parents=True), (out / "hubert" / "config.json").write_text("{}")))

    monkeypatch.setattr(tokenizer_module, "fit_tokenizer", lambda files, features, clusters, **kw: fitted.append(
        (files, features, clusters, kw)) or _SavedTokenizer())
    work = tmp_path / "w"
    assert make_checkpoints.fit_tokenizer(work, "speech") == work / "speech" / "tokenizer"
    (files, config), = trained
    assert files == ["speech/train/None", "recorded/train/None"] and (config.steps, config.num_layers) == (7, 2)
    (files, features, clusters, kw), = fitted
    assert files == ["speech/train/en"] and (features, clusters) == ("hubert", 32)  # English ids, as before
    assert kw["model_path"] == work / "speech" / "hubert" / "hubert" and kw["layer"] == 3
    make_checkpoints.fit_tokenizer(work, "speech")  # done: neither runs again
    assert len(trained) == len(fitted) == 1


def test_a_recipe_tokenizers_feature_config_reaches_the_fit(make_checkpoints, monkeypatch, tmp_path):
    import audiolm_lib.semantic.tokenizer as tokenizer_module

    tokenizer = {"features": "chroma_onset", "clusters": 8, "feature_config": {"onset_weight": 1.0}}
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"tokenizer": tokenizer})
    monkeypatch.setattr(make_checkpoints, "manifest", lambda work, name: Path(name))
    monkeypatch.setattr(make_checkpoints, "split_files", lambda manifests, split, language=None: ["a.wav"])
    fitted = []

    monkeypatch.setattr(tokenizer_module, "fit_tokenizer", lambda files, features, clusters, **kw: fitted.append(
        features) or _SavedTokenizer())
    make_checkpoints.fit_tokenizer(tmp_path / "w", "piano")
    (features,) = fitted
    assert (features.kind, features.onset_weight, features.n_fft) == ("chroma_onset", 1.0, 2048)


def test_seed_puts_a_shipped_folder_in_place_and_a_leg_from_the_average_continues_it(make_checkpoints, monkeypatch,
                                                                                       tmp_path):
    """``seed``: a shipped folder's parts copied byte for byte where the phases export them (the generator as the
    recipe's average of legs), so only the leg from that average runs, from the shipped weights."""
    shipped = tmp_path / "shipped"
    components = {"semantic_tokenizer": "semantic_tokenizer", "codec": "codec", "semantic_lm": "semantic_lm",
                  "acoustic_lm": "acoustic_lm"}
    for name in components:
        (shipped / name).mkdir(parents=True)
        (shipped / name / "config.json").write_text(json.dumps({"part": name}))
        (shipped / name / "model.safetensors").write_bytes(name.encode() * 3)
    (shipped / "config.json").write_text(json.dumps({"components": components}))
    legs = [{"data": ["speech"], "steps": 5}] * 2 + [{"data": ["speech", "recorded"], "steps": 7, "from_average": True}]
    stage = {"tune": legs, "average_tune_legs": [1, 2]}
    monkeypatch.setattr(make_checkpoints, "recipe", lambda kind: {"stages": {"parallel": stage, "semantic": {}}})
    work = tmp_path / "w"
    make_checkpoints.seed_work(work, "speech", shipped)
    average = work / "speech" / "stage_parallel_average" / "model"
    assert (average / "model.safetensors").read_bytes() == b"acoustic_lm" * 3
    assert (work / "speech" / "tokenizer" / "model.safetensors").read_bytes() == b"semantic_tokenizer" * 3
    assert (work / "speech" / "stage_semantic" / "model" / "config.json").exists()
    make_checkpoints.tune_stage(work, "speech", "parallel", None)
    (run,) = make_checkpoints.runs  # legs 1 and 2 are not needed: the average they make is in place
    assert run["init_from"] == str(average) and run["out"] == "stage_parallel_tune3"
    tuned = work / "speech" / "stage_parallel_tune3" / "model"
    assert make_checkpoints.stage_model_dir(work, "speech", "parallel") == tuned
    with pytest.raises(SystemExit, match="exist.*already"):
        make_checkpoints.seed_work(work, "speech", shipped)
    assert json.loads((average.parent / "sources.json").read_text()) == make_checkpoints.leg_sources(
        work, "speech", "parallel", [1, 2])
    partial = tmp_path / "partial"  # one part there already: nothing is copied
    (partial / "speech" / "stage_semantic" / "model").mkdir(parents=True)
    with pytest.raises(SystemExit, match="stage_semantic"):
        make_checkpoints.seed_work(partial, "speech", shipped)
    assert not (partial / "speech" / "tokenizer").exists() and not (partial / "codec_seeded").exists()
    assert not (partial / "speech" / "stage_parallel_average").exists()
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "config.json").write_text("{}")
    with pytest.raises(SystemExit, match="names no tokenizer"):
        make_checkpoints.seed_work(tmp_path / "other", "speech", tmp_path / "bare")
    with pytest.raises(SystemExit, match="not an AudioLM folder"):
        make_checkpoints.seed_work(tmp_path / "other", "speech", tmp_path / "missing")
    assert (work / "codec_seeded" / "codec" / "model.safetensors").read_bytes() == b"codec" * 3
    assert make_checkpoints._first_leg_to_run(tmp_path / "plain", "speech", "parallel", legs) == 0  # nothing seeded
    (average.parent / "sources.json").write_text(json.dumps(["other legs"]))  # an average of other legs: not this one
    assert make_checkpoints._first_leg_to_run(work, "speech", "parallel", legs) == 0


@pytest.mark.parametrize("recipe_name, share", [("codec_prematched", 0.5), ("codec_prematched_control", 0.0)])
def test_the_prematched_decoder_phase_tunes_the_shipped_codec_on_the_speech_voices(make_checkpoints, monkeypatch,
                                                                                    tmp_path, recipe_name, share):
    import codec_phases

    import audiolm_lib.training.codec_trainer as codec_trainer

    work = tmp_path / "work"
    for data_set in ("speech", "recorded", "piano"):
        folder = work / "data" / data_set
        folder.mkdir(parents=True)
        rows = [{"id": f"{data_set}_{split}", "audio": f"{data_set}_{split}.wav", "split": split}
                for split in ("train", "valid")]
        (folder / "manifest.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (work / "codec_adversarial" / "codec").mkdir(parents=True)
    (work / "codec_adversarial" / "codec" / "config.json").write_text("{}")
    calls = []
    monkeypatch.setattr(codec_trainer, "train_codec", lambda config, files, out, resume: calls.append(
        (config, [Path(f).name for f in files], out, resume)) or out.mkdir(parents=True))
    codec_phases.tune_codec_prematched(work, None, recipe_name)
    (config, files, out, resume), = calls
    assert config.prematch_share == share and config.train_decoder_only
    assert config.init_from == str(work / "codec_adversarial" / "codec")  # the shipped codec: its codes stay valid
    assert sorted(files) == ["recorded_train.wav", "recorded_valid.wav", "speech_train.wav", "speech_valid.wav"]
    assert out == work / recipe_name and resume is False
    assert json.loads((out / "cpu_seconds.jsonl").read_text().splitlines()[-1])["phase"] == recipe_name
