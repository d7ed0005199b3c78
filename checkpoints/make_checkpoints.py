"""How the shipped checkpoints are made, phase by phase; every phase resumes exactly where it stopped, so a budget can
span several runs (a killed run loses at most one checkpoint interval).

    python checkpoints/make_checkpoints.py data      --work W            # build the training sets (W/data/...)
    python checkpoints/make_checkpoints.py codec     --work W [--minutes M]   # recipes/codec.json, both domains
    python checkpoints/make_checkpoints.py codec-decoder --work W         # decoder only, codes unchanged (any time later)
    python checkpoints/make_checkpoints.py codec-adversarial --work W     # decoder only, against a discriminator
    python checkpoints/make_checkpoints.py codec-prematched --work W      # decoder only, on voice-matched latents
        [--recipe codec_prematched_control]                               # (its control: the same without them)
    python checkpoints/make_checkpoints.py swap-codec --work W --kind speech  # that decoder into checkpoints/speech
    python checkpoints/make_checkpoints.py tokenizer --work W --kind speech   # recipes/speech.json "tokenizer" (its HuBERT first)
    python checkpoints/make_checkpoints.py cache     --work W --kind speech   # token cache (train + valid)
    python checkpoints/make_checkpoints.py stage     --work W --kind speech --stage coarse [--minutes M]
    python checkpoints/make_checkpoints.py stage-tune --work W --kind speech --stage parallel  # recipe's "tune" leg
    python checkpoints/make_checkpoints.py assemble  --work W --kind speech --out checkpoints/speech
    python checkpoints/make_checkpoints.py seed      --work W --kind speech   # continue checkpoints/speech (a new W)
    python checkpoints/make_checkpoints.py device-pack --work W --kind speech --stage parallel --recipe speech_device
    python checkpoints/make_checkpoints.py device-import --work W --kind speech --stage parallel \\
        --recipe speech_device --returned FOLDER   # the last tune leg, trained on a lent GPU (checkpoints/device/)

The recipes (model shapes, optimisation, early stopping, budgets) are the JSON files in ``checkpoints/recipes/``;
the data are built by the library's own builders (``audiolm data``), split by speaker / piece
(``audiolm_lib/datasets/splits.py``): the held-out voices and pieces of the quality benchmark are never built.
The codec phases are in ``codec_phases.py``, the data sets and their manifests in ``work_data.py`` beside this file.
``--threads 1`` per process is fastest on a shared 2-core machine (two processes: codec + a stage, or two stages).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling modules, also when a test loads it by path
from codec_phases import (shipped_codec, train_codec, tune_codec_adversarial, tune_codec_decoder,  # noqa: E402
                          tune_codec_prematched)
# DATA_SETS: the tests read the data sets from here
from work_data import DATA_SETS, RECIPES, ROOT, build_data, manifest, record_cpu, split_files  # noqa: E402,F401

# --recipe: another recipe file for the kind (an experiment such as recipes/piano_chroma.json)
RECIPE_FOR_KIND: dict[str, str] = {}


# keys of a recipe's stage that say how the runs go, not what a run is (never StageTrainConfig fields)
RUN_PLAN_KEYS = ("continue_to_steps", "tune", "stop_after", "average_tune_legs", "data")


def recipe(name: str) -> dict:
    return json.loads((RECIPES / f"{RECIPE_FOR_KIND.get(name, name)}.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------------ phases
# the folder of each stage's model in a shipped AudioLM folder (its config.json "components")
SHIPPED_COMPONENT = {"semantic": "semantic_lm", "parallel": "acoustic_lm", "coarse": "coarse_lm", "fine": "fine_lm"}


def seed_work(work: Path, kind: str, folder: Path) -> None:
    """A work folder that continues a shipped AudioLM folder where the runs that made it are gone (a new machine):
    its tokenizer, codec and stage models copied byte for byte to where the phases would have exported them, a stage
    whose recipe averages tune legs (``average_tune_legs``) to that average's folder, so a later leg with
    ``from_average: true`` starts from the shipped weights and the legs before it count as done (:func:`tune_stage`).
    The copies are the shipped half-width (float16) weights; a cache built here encodes with that codec."""
    import shutil

    config_path = folder / "config.json"
    if not config_path.is_file():
        raise SystemExit(f"seed: {folder} is not an AudioLM folder (no config.json)")
    components = json.loads(config_path.read_text(encoding="utf-8")).get("components")
    if not isinstance(components, dict) or not {"semantic_tokenizer", "codec"} <= set(components):
        raise SystemExit(f"seed: {config_path} names no tokenizer and codec (\"components\"): not an AudioLM folder")
    settings = recipe(kind)["stages"]
    targets = {"semantic_tokenizer": work / kind / "tokenizer", "codec": work / "codec_seeded" / "codec"}
    records = {}  # an average's folder also lists the legs it stands for
    for stage, component in SHIPPED_COMPONENT.items():
        if component not in components:
            continue
        averaged = settings.get(stage, {}).get("average_tune_legs")
        if averaged:
            targets[component] = average_folder(work, kind, stage) / "model"
            records[targets[component].parent / "sources.json"] = leg_sources(work, kind, stage, averaged)
        else:
            targets[component] = leg_dir(work, kind, stage, len(tune_legs(kind, stage))) / "model"
    taken = [str(target) for target in [*targets.values(), *records] if target.exists()]
    if taken:  # checked before anything is written: a work folder is seeded whole or not at all
        raise SystemExit(f"seed: {', '.join(taken)} exist(s) already; seed a fresh --work folder")
    for component, target in targets.items():
        shutil.copytree(folder / components[component], target)
        print(f"{folder / components[component]} -> {target}", flush=True)
    for record, sources in records.items():
        record.write_text(json.dumps(sources))


def train_feature_model(work: Path, kind: str) -> Path:
    """The recipe tokenizer's own HuBERT (iteration 1: masked prediction of MFCC k-means ids, ``"hubert"``: its
    :class:`HubertTrainingConfig` fields) trained on the training split of the ``"hubert_data"`` sets (recorded voices
    beside the synthetic ones: features that vary less with the voice), resumed until done; -> its model folder."""
    from audiolm_lib.serialization import config_from_dict
    from audiolm_lib.training.hubert import HubertTrainingConfig, train_hubert

    settings = recipe(kind)["tokenizer"]
    out = work / kind / "hubert"
    if not (out / "hubert" / "config.json").exists():
        files = split_files([manifest(work, name) for name in settings.get("hubert_data", [kind])], "train")
        config = config_from_dict(HubertTrainingConfig, settings.get("hubert", {}), source=f"recipe {kind}/tokenizer")
        started = time.process_time()
        train_hubert([str(f) for f in files], out, config)
        record_cpu(out, "hubert", time.process_time() - started)
    return out / "hubert"


def fit_tokenizer(work: Path, kind: str) -> Path:
    from audiolm_lib.semantic.features import FeatureConfig
    from audiolm_lib.semantic.tokenizer import fit_tokenizer as fit

    settings = recipe(kind)["tokenizer"]
    out = work / kind / "tokenizer"
    if not (out / "config.json").exists():
        learned = settings["features"] == "hubert"  # k-means of a layer of the recipe's own HuBERT
        features = settings["features"]
        if settings.get("feature_config"):  # FeatureConfig fields over the kind's defaults (chroma_onset's weight)
            features = FeatureConfig.for_kind(features, **settings["feature_config"])
        files = split_files([manifest(work, kind)], "train", language="en" if kind == "speech" else None)
        tokenizer = fit([str(f) for f in files], features, settings["clusters"],
                        model_path=train_feature_model(work, kind) if learned else None,
                        layer=settings.get("layer", 6), max_frames=settings.get("max_frames", 1_000_000), seed=0)
        tokenizer.save_pretrained(out)
    return out


def build_cache(work: Path, kind: str, codec_dir: Path | None, out: Path | None = None,
                data_sets: list[str] | None = None) -> Path:
    """Token cache of ``data_sets`` (default: the kind's own set) with the kind's tokenizer and ``codec_dir``."""
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer
    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.training.token_cache import build_token_cache

    out = out or work / kind / "tokens"
    if not (out / "header.json").exists():
        tokenizer = SemanticTokenizer.from_pretrained(fit_tokenizer(work, kind)).eval()
        codec = load_pretrained(codec_dir or work / "codec" / "codec").eval()
        build_token_cache([manifest(work, name) for name in data_sets or [kind]], out, tokenizer, codec)
    return out


def cache_dir(work: Path, kind: str, data_sets: list[str]) -> Path:
    """The token cache folder of ``data_sets``: the kind's own data alone is its cache of the stage phases
    (``tokens``; the codes of every decoder are the same), other sets ``tokens_<set>_<set>...``."""
    return work / kind / ("tokens" if list(data_sets) == [kind] else f"tokens_{'_'.join(data_sets)}")


def tune_legs(kind: str, stage: str) -> list[dict]:
    """The recipe's tune legs of a stage (``stages.<stage>.tune``: one leg, or a list run one after the other)."""
    legs = recipe(kind)["stages"][stage].get("tune", [])
    return [legs] if isinstance(legs, dict) else list(legs)


def tune_dir(work: Path, kind: str, stage: str, leg: int) -> Path:
    """Leg 0 writes ``stage_<stage>_tune`` (as before legs existed), leg i > 0 ``stage_<stage>_tune<i + 1>``."""
    return work / kind / f"stage_{stage}_tune{'' if leg == 0 else leg + 1}"


def leg_dir(work: Path, kind: str, stage: str, number: int) -> Path:
    """The folder of leg ``number`` as recipes count them (1-based; 0 is the stage's own run, before any tune leg)."""
    return work / kind / f"stage_{stage}" if int(number) == 0 else tune_dir(work, kind, stage, int(number) - 1)


def leg_sources(work: Path, kind: str, stage: str, legs: list[int]) -> list[str]:
    """The model folders of legs ``legs`` (numbered as :func:`leg_dir`), as an average's ``sources.json`` lists them."""
    return [str(leg_dir(work, kind, stage, n) / "model") for n in legs]


def average_folder(work: Path, kind: str, stage: str, start_of: int | None = None) -> Path:
    """Where a mean of tune legs is kept: ``stage_<stage>_average`` (the recipe's ``average_tune_legs``), or
    ``stage_<stage>_start<n>`` for the start of leg ``n`` (``start_of``: its 0-based index) that lists its own legs."""
    return work / kind / (f"stage_{stage}_average" if start_of is None else f"stage_{stage}_start{start_of + 1}")


def transferred_start(work: Path, kind: str, model_dir: Path, old_tokenizer: Path, out: Path) -> Path:
    """``model_dir``'s model with its semantic embedding carried from ``old_tokenizer``'s ids to the kind's tokenizer's
    (:mod:`audiolm_lib.training.vocab_transfer`, co-occurrence on the kind's training files), saved once at ``out``."""
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer
    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.training.vocab_transfer import token_cooccurrence, transfer_semantic_embedding

    if not (out / "config.json").exists():
        old = SemanticTokenizer.from_pretrained(old_tokenizer).eval()
        new = SemanticTokenizer.from_pretrained(fit_tokenizer(work, kind)).eval()
        counts = token_cooccurrence(old, new, split_files([manifest(work, kind)], "train"))
        transfer_semantic_embedding(load_pretrained(model_dir), counts).save_pretrained(out)
    return out


def deepened_start(model_dir: Path, depth: int, out: Path) -> Path:
    """``model_dir``'s model grown to ``depth`` Transformer blocks (:mod:`audiolm_lib.training.deepen`: new blocks
    add nothing until trained), saved once at ``out``."""
    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.training.deepen import deepened

    if not (out / "config.json").exists():
        try:
            grown = deepened(load_pretrained(model_dir), depth)
        except (TypeError, ValueError) as exc:
            raise SystemExit(f"deepen_to {depth} from {model_dir}: {exc}") from None
        grown.save_pretrained(out)
    return out


def extended_start(model_dir: Path, parts: list[str], out: Path) -> Path:
    """``model_dir``'s model with the neutral ``parts`` turned on (:mod:`audiolm_lib.training.extend`: they add
    nothing until trained), saved once at ``out``; ``model_dir`` itself where it has them all."""
    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.training.extend import extended

    if (out / "config.json").exists():
        return out
    model = load_pretrained(model_dir)
    wanted = {name: True for name in parts if not getattr(model.config, name, False)}
    if not wanted:
        return model_dir
    try:
        extended(model, **wanted).save_pretrained(out)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"{', '.join(wanted)} from {model_dir}: {exc}") from None
    return out


def tune_stage(work: Path, kind: str, stage: str, minutes: float | None) -> None:
    """A stage's "tune" legs (recipe ``stages.<stage>.tune``): each from the previous leg's model (the first from the
    stage's trained model, ``init_from``), on a token cache of the leg's ``data`` sets (recorded voices beside the
    synthetic ones), into :func:`tune_dir`; ``assemble`` then ships the last leg's model in the stage's place (or the
    mean of the legs named by ``average_tune_legs``; a later leg with ``from_average: true`` starts from that mean, one
    with ``from_average: [0, 1]`` from the mean of the legs listed, which the shipped mean may then include; one with
    ``deepen_to: n`` grows its start model to ``n`` Transformer blocks first). A leg
    is done when its successor has started or its model is exported at its last step (or without checkpoints: put
    in place by hand); any other resumes."""
    from audiolm_lib.serialization import config_from_dict, renamed_fields
    from audiolm_lib.training.config import StageTrainConfig
    from audiolm_lib.training.trainer import train_stage as run

    legs = tune_legs(kind, stage)
    first = _first_leg_to_run(work, kind, stage, legs)
    for index, leg in enumerate(legs):
        if index < first:
            continue  # a later leg starts from an average already in place (made here, or by the seed phase)
        out = tune_dir(work, kind, stage, index)
        leg = renamed_fields(StageTrainConfig, dict(leg), f"recipe {kind}/{stage}/tune[{index}]")
        # "stop_after": the leg ends at that step of its ``steps``-long schedule (a budget cut, stated in the recipe)
        stop_after = leg.get("stop_after")
        last = _last_step(int(leg["steps"]), stop_after)
        exported, done = (out / "model" / "config.json").exists(), _latest_step(out)
        if (index + 1 < len(legs) and _latest_step(tune_dir(work, kind, stage, index + 1)) > 0) or (
                exported and (done == 0 or done >= last)):
            continue  # finished, or its model put in place without checkpoints (a leg made elsewhere)
        fields, cache = leg_fields(work, kind, stage, index, minutes)
        config = config_from_dict(StageTrainConfig, fields, source=f"recipe {kind}/{stage}/tune[{index}]")
        started = time.process_time()
        run(config, cache, out, resume=_latest_step(out) > 0, max_steps=stop_after)
        record_cpu(out, f"{stage}_tune{index + 1}", time.process_time() - started)


def leg_fields(work: Path, kind: str, stage: str, index: int, minutes: float | None) -> tuple[dict, Path]:
    """Tune leg ``index``'s :class:`StageTrainConfig` fields (the stage's, the leg's over them, its start model as
    ``init_from``, made first where the leg deepens, extends or re-maps it) and its token cache, built if needed."""
    from audiolm_lib.serialization import renamed_fields
    from audiolm_lib.training.config import StageTrainConfig
    from audiolm_lib.training.extend import NEUTRAL_PARTS

    base = renamed_fields(StageTrainConfig, {k: v for k, v in recipe(kind)["stages"][stage].items()
                                             if k not in RUN_PLAN_KEYS}, f"recipe {kind}/{stage}")
    out = tune_dir(work, kind, stage, index)
    leg = renamed_fields(StageTrainConfig, dict(tune_legs(kind, stage)[index]), f"recipe {kind}/{stage}/tune[{index}]")
    leg.pop("stop_after", None)
    data_sets = leg.pop("data")
    cache = build_cache(work, kind, shipped_codec(work), cache_dir(work, kind, data_sets), data_sets)
    fields = dict(base)
    start_model = leg_dir(work, kind, stage, index) / "model"  # the previous leg's
    from_average = leg.pop("from_average", False)
    if from_average:  # from the mean of earlier legs: the recipe's averaged ones (true) or those listed
        named = isinstance(from_average, list)
        averaged = from_average if named else recipe(kind)["stages"][stage].get("average_tune_legs") or []
        if not averaged or max(averaged) > index:
            raise SystemExit(f"recipe {kind}/{stage}/tune[{index}]: from_average needs earlier legs to average "
                             f"(its own list, or average_tune_legs), got {averaged}")
        start_model = averaged_tune_legs(work, kind, stage, averaged if named else None,
                                         start_of=index if named else None)
    transfer_from = leg.pop("transfer_semantic_from", None)
    if transfer_from is not None:  # the start model knew another tokenizer's ids: carry its embedding over
        start_model = transferred_start(work, kind, start_model, ROOT / transfer_from, out / "init_model")
    # a leg's model settings override the stage's, its "transformer" ones key by key (a later leg of a deepened
    # model gives {"transformer": {"depth": 6}} alone)
    base_model, leg_model = base.get("model", {}), leg.get("model", {})
    model = {**base_model, **leg_model}
    if "transformer" in leg_model:
        model["transformer"] = {**base_model.get("transformer", {}), **leg_model["transformer"]}
    depth = leg.pop("deepen_to", None)
    if depth is not None:  # a larger model from the start one, computing the same function at first
        start_model = deepened_start(start_model, int(depth), out / "deepened_model")
        model["transformer"] = {**model.get("transformer", {}), "depth": int(depth)}
    parts = [name for name in NEUTRAL_PARTS if model.get(name)]
    if parts:  # a start model without them gets them at their neutral start: the same function at first
        start_model = extended_start(start_model, parts, out / "extended_model")
    fields.update({k: v for k, v in leg.items() if k != "model"}, stage=base.get("stage", stage),
                  budget_minutes=minutes, model=model, init_from=str(start_model))
    return fields, cache


def _first_leg_to_run(work: Path, kind: str, stage: str, legs: list[dict]) -> int:
    """The last leg that starts from the average of earlier legs (``from_average``) when that average is already in
    place (its model and the list of its sources; :func:`averaged_tune_legs`, or :func:`seed_work`): the legs before
    it are not needed. 0 when there is none."""
    average_legs = recipe(kind)["stages"][stage].get("average_tune_legs") or []
    for index in reversed(range(len(legs))):
        named = legs[index].get("from_average", False)
        if not named:
            continue
        listed = isinstance(named, list)
        if average_in_place(average_folder(work, kind, stage, index if listed else None),
                            leg_sources(work, kind, stage, named if listed else average_legs)):
            return index
    return 0


def average_in_place(folder: Path, sources: list[str]) -> bool:
    """Whether ``folder`` holds a model averaged from exactly ``sources`` (its ``sources.json`` lists them)."""
    record = folder / "sources.json"
    return (folder / "model" / "config.json").exists() and record.exists() and json.loads(record.read_text()) == sources


def train_stage(work: Path, kind: str, stage: str, minutes: float | None, cache: Path | None = None) -> None:
    from audiolm_lib.serialization import config_from_dict, renamed_fields
    from audiolm_lib.training.config import StageTrainConfig
    from audiolm_lib.training.trainer import train_stage as run

    settings = renamed_fields(StageTrainConfig, recipe(kind)["stages"][stage], f"recipe {kind}/{stage}")
    # "continue_to_steps": later legs of the same run, each resumed with a larger step count (the cosine schedule
    # restarts from where the larger total puts it: a warm restart). A budget can so grow after a run ended without
    # starting over, and the recipe still says exactly how the shipped weights were made.
    legs = [int(settings["steps"])] + [int(n) for n in settings.get("continue_to_steps", [])]
    # "stop_after": the run ends at that step of its schedule (a budget cut, stated in the recipe)
    stop_after = settings.get("stop_after")
    out = work / kind / f"stage_{stage}"
    data_sets = settings.get("data")  # a run on other sets than the kind's own (recorded voices from the start)
    if cache is None and data_sets:
        cache = build_cache(work, kind, shipped_codec(work), cache_dir(work, kind, data_sets), data_sets)
    for total in legs:
        done = _latest_step(out)
        if done >= _last_step(total, stop_after):
            continue
        fields = {k: v for k, v in settings.items() if k not in RUN_PLAN_KEYS}
        fields.update(stage=settings.get("stage", stage), steps=total, budget_minutes=minutes)
        config = config_from_dict(StageTrainConfig, fields, source=f"recipe {kind}/{stage}")
        started = time.process_time()
        run(config, cache or work / kind / "tokens", out, resume=done > 0, max_steps=stop_after)
        record_cpu(out, stage, time.process_time() - started)
        if _latest_step(out) < total:  # stopped early (patience, the minutes budget, stop_after): no further leg
            break


def averaged_tune_legs(work: Path, kind: str, stage: str, legs: list[int] | None = None,
                       start_of: int | None = None) -> Path | None:
    """The mean of tune legs (1-based leg numbers; 0 is the stage's own model, before any leg; default the recipe's
    ``average_tune_legs``) of a stage, averaged into :func:`average_folder`'s ``model`` (``start_of``: the start of
    that leg index, which lists its own legs; default the recipe's average) and kept
    with the list of its sources, so a folder of other legs is averaged again; None when there is nothing to
    average."""
    legs = recipe(kind)["stages"][stage].get("average_tune_legs") if legs is None else legs
    if not legs:
        return None
    folder_path = average_folder(work, kind, stage, start_of)
    out, record = folder_path / "model", folder_path / "sources.json"
    sources = leg_sources(work, kind, stage, legs)
    if not average_in_place(folder_path, sources):
        from audiolm_lib.training.soup import average_models

        average_models([Path(source) for source in sources], out)
        record.write_text(json.dumps(sources))
    return out


def stage_model_dir(work: Path, kind: str, stage: str) -> Path:
    """A stage's exported model: its last tune leg's where one ran (see :func:`tune_stage`), unless that leg is one
    of the legs the recipe averages (``average_tune_legs``; a later leg may start from their mean, ``from_average``):
    then their average; with no tune leg, its own."""
    last_averaged = max(recipe(kind)["stages"][stage].get("average_tune_legs") or [], default=0)
    for leg in reversed(range(last_averaged, len(tune_legs(kind, stage)))):  # the legs after the averaged ones
        tuned = tune_dir(work, kind, stage, leg) / "model"
        if (tuned / "config.json").exists():
            return tuned
    if last_averaged:
        return averaged_tune_legs(work, kind, stage)
    return leg_dir(work, kind, stage, 0) / "model"


def _last_step(steps: int, stop_after: int | None) -> int:
    """The step a run of a ``steps``-long schedule ends at: ``stop_after`` where the recipe cuts it short."""
    return steps if stop_after is None else min(steps, int(stop_after))


def _latest_step(out: Path) -> int:
    steps = [int(path.stem.split("_")[-1]) for path in out.glob("step_*.safetensors")]
    return max(steps, default=0)


def assemble(work: Path, kind: str, out: Path) -> None:
    """One AudioLM folder from the work folder's tokenizer, latest codec and stages, the recipe's decoding settings in
    it (:func:`audiolm_lib.training.shipping.assemble_folder`: half-width weights, checked to reproduce the training
    cache's ids on its validation items before they are recorded as what the stages were trained on)."""
    from audiolm_lib.datasets.manifest import read_manifest
    from audiolm_lib.training.shipping import assemble_folder, token_agreement
    from audiolm_lib.training.stages import generator_stages

    settings = recipe(kind)
    # the recipe's acoustic generator: one parallel (SoundStorm-style) model, or the coarse + fine pair
    names = ("semantic",) + generator_stages(settings.get("acoustic_generator", "hierarchical"))
    audio_of = {entry["id"]: Path(entry["audio"]) for entry in read_manifest(manifest(work, kind))}
    assemble_folder(work / kind / "tokenizer", shipped_codec(work),
                    {name: stage_model_dir(work, kind, name) for name in names}, settings, out,
                    agreement_of=lambda tokenizer, codec: token_agreement(tokenizer, codec, work / kind / "tokens",
                                                                          audio_of),
                    record={"kind": kind, **settings})


def device_pack(work: Path, kind: str, stage: str, out: Path) -> None:
    """The recipe's last tune leg of ``stage`` as a carry folder for a lent accelerator
    (:func:`audiolm_lib.training.device_leg.pack_leg`)."""
    from audiolm_lib.training.device_leg import pack_leg

    index = len(tune_legs(kind, stage)) - 1
    if index < 0:
        raise SystemExit(f"device-pack: recipe {kind}/{stage} has no tune leg to run elsewhere")
    try:
        size = pack_leg(*leg_fields(work, kind, stage, index, None), out)
    except (OSError, ValueError) as exc:  # a non-empty out folder, a missing start model, an unfinished cache
        raise SystemExit(f"device-pack: {exc}") from None
    print(f"{out}: leg {index + 1} of {kind}/{stage}, {size / 2 ** 20:.1f} MiB to carry "
          f"(checkpoints/device/tree.py size --carry {out}: with the tree that travels)")


def device_import(work: Path, kind: str, stage: str, returned: Path) -> None:
    """The model a device leg returned joined into the last tune leg's folder
    (:func:`audiolm_lib.training.device_leg.import_leg`): ``assemble`` and the benches read it as any leg's."""
    from audiolm_lib.training.device_leg import import_leg

    out = tune_dir(work, kind, stage, len(tune_legs(kind, stage)) - 1)
    try:
        print(f"{returned} -> {import_leg(returned, out)}")
    except (OSError, ValueError) as exc:  # a missing or damaged part, a leg folder that holds a model already
        raise SystemExit(f"device-import: {exc}") from None


def main() -> None:
    from audiolm_lib.training.stages import STAGES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=("data", "codec", "codec-decoder", "codec-adversarial", "codec-prematched",
                                          "tokenizer", "cache",
                                          "stage", "stage-tune", "assemble", "swap-codec", "seed",
                                          "device-pack", "device-import"))
    parser.add_argument("--work", type=Path, default=Path("runs/checkpoints"))
    parser.add_argument("--kind", choices=("piano", "speech"), default="piano")
    parser.add_argument("--recipe", default=None, help="another recipe of recipes/ for the kind (default: the kind's)")
    parser.add_argument("--stage", choices=STAGES, default="semantic")
    parser.add_argument("--minutes", type=float, default=None, help="wall-clock budget of this run (resume adds more)")
    parser.add_argument("--codec", type=Path, default=None,
                        help="cache phase: a codec folder (default: the latest codec phase's, or the seeded one)")
    parser.add_argument("--shipped", type=Path, default=None,
                        help="seed phase: the AudioLM folder to continue (default checkpoints/KIND)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="stage phase: another token cache (default WORK/KIND/tokens); the semantic stage only "
                             "reads semantic ids, so a cache built with any codec gives it the same data")
    parser.add_argument("--returned", type=Path, default=None,
                        help="device-import phase: the folder a device leg's files came back to")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # denormal activations of a young codec made steps up to 7x slower on CPU
    work = args.work
    if args.recipe:
        if not (RECIPES / f"{args.recipe}.json").is_file():
            raise SystemExit(f"--recipe {args.recipe}: no {RECIPES / (args.recipe + '.json')}")
        RECIPE_FOR_KIND[args.kind] = args.recipe
    if args.phase == "data":
        build_data(work)
    elif args.phase == "codec":
        train_codec(work, args.minutes)
    elif args.phase == "codec-decoder":
        tune_codec_decoder(work, args.minutes)
    elif args.phase == "codec-adversarial":
        tune_codec_adversarial(work, args.minutes)
    elif args.phase == "codec-prematched":
        tune_codec_prematched(work, args.minutes, args.recipe or "codec_prematched")
    elif args.phase == "swap-codec":  # the latest codec phase's decoder into a shipped folder, stages kept
        target = args.out or Path(__file__).resolve().parent / args.kind
        clips = split_files([manifest(work, "speech" if args.kind == "speech" else "piano")], "valid")[:8]
        from audiolm_lib.training.shipping import swap_codec

        swap_codec(target, args.codec or shipped_codec(work), clips)
    elif args.phase == "seed":  # a shipped folder's parts as this work folder's exports
        seed_work(work, args.kind, args.shipped or Path(__file__).resolve().parent / args.kind)
    elif args.phase == "tokenizer":
        print(fit_tokenizer(work, args.kind))
    elif args.phase == "cache":
        print(build_cache(work, args.kind, args.codec or shipped_codec(work), args.out))
    elif args.phase == "stage":
        train_stage(work, args.kind, args.stage, args.minutes, args.cache)
    elif args.phase == "stage-tune":
        tune_stage(work, args.kind, args.stage, args.minutes)
    elif args.phase == "device-pack":
        device_pack(work, args.kind, args.stage, args.out or Path(".device") / args.kind)
    elif args.phase == "device-import":
        if args.returned is None:
            raise SystemExit("device-import needs --returned FOLDER (where the device leg's files came back)")
        device_import(work, args.kind, args.stage, args.returned)
    else:
        assemble(work, args.kind, args.out or Path(__file__).resolve().parent / args.kind)


if __name__ == "__main__":
    sys.exit(main())
