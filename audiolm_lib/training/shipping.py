"""Making a shipped AudioLM folder from trained parts, and changing one in place without breaking it.

- :func:`assemble_folder`: the semantic tokenizer, the codec and the trained stages as one folder, stored at half width,
  with the recipe's decoding settings and each stage's provenance (``trained_on``), after checking that the half-width
  tokenizer and codec still give the ids the stages were trained on;
- :func:`swap_codec`: a codec whose decoder was retrained put into such a folder, the stages kept;
- :func:`replace_folder`: the save both use, a fresh folder swapped in whole.

``checkpoints/make_checkpoints.py`` (the work folder's layout, the recipes) calls these; they know no work folder.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

# the AudioLMConfig fields that are per-stage sampling settings, not pipeline decoding settings
_STAGE_SAMPLING = ("semantic", "coarse", "fine", "acoustic")


def assemble_folder(tokenizer_dir: Path, codec_dir: Path, stage_dirs: dict[str, Path], settings: dict, out: Path,
                    agreement_of: Callable | None = None, record: dict | None = None) -> Path:
    """Save one AudioLM folder at ``out`` from a tokenizer, a codec and the stages' model folders (``stage_dirs``:
    stage name -> folder; ``"semantic"`` and the acoustic generator's stages), weights at half width.

    ``settings`` is the recipe: its ``acoustic_decoding`` and ``semantic_decoding`` go into those stages' configs,
    ``sampling`` (per-stage temperatures) and ``pipeline_decoding`` into the pipeline's. The tokenizer and codec are
    reloaded from their half-width files, as a user will load them; ``agreement_of(tokenizer, codec)`` then returns
    the shares of ids they reproduce (``semantic``, ``codes_level1``, ``codes_all``; see :func:`token_agreement`),
    which must hold before they are recorded as what the stages were trained on. ``record`` (plus the agreement) is
    written beside the model as ``recipe.json``."""
    from audiolm_lib.provenance import component_identity, identity_summary
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer
    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.training.stages import assemble_audiolm, stage_kind

    where = f"recipe {record['kind']}: " if record and "kind" in record else ""  # errors name the recipe
    parts = {name: load_pretrained(folder) for name, folder in stage_dirs.items()}
    staging = out.parent / f".{out.name}.staging"
    try:
        SemanticTokenizer.from_pretrained(tokenizer_dir).save_pretrained(staging / "tokenizer", dtype="float16")
        load_pretrained(codec_dir).save_pretrained(staging / "codec", dtype="float16")
        tokenizer = SemanticTokenizer.from_pretrained(staging / "tokenizer").eval()
        codec = load_pretrained(staging / "codec").eval()
        agreement = agreement_of(tokenizer, codec) if agreement_of is not None else None
        if agreement is not None:
            print("token agreement with the training cache:", agreement, flush=True)
            # half-width weights flip ~2 % of the upper levels' codes (near-ties of tiny residuals; decoded audio
            # within 0.001 log-mel and 0.005 speaker similarity of the float32 codec's); the ids the stages lean on
            # must hold
            if min(agreement["semantic"], agreement["codes_level1"]) < 0.99 or agreement["codes_all"] < 0.95:
                raise SystemExit(f"the shipped tokenizer/codec do not reproduce the training tokens: {agreement}")
        provenance = {"semantic_tokenizer": identity_summary(component_identity(tokenizer), tokenizer),
                      "codec": identity_summary(component_identity(codec), codec)}
        for name, part in parts.items():  # the semantic stage never sees codec tokens
            part.trained_on = provenance if stage_kind(name).uses_codec else {
                "semantic_tokenizer": provenance["semantic_tokenizer"]}
        # decoding settings chosen on the training data's validation split (never the evaluation sets)
        if "parallel" in parts:
            for key, value in settings.get("acoustic_decoding", {}).items():
                setattr(parts["parallel"].config, key, value)
        for key, value in settings.get("semantic_decoding", {}).items():  # e.g. the semantic stage's guidance_scale
            if not hasattr(parts["semantic"].config, key):
                raise SystemExit(f"{where}semantic_decoding.{key} is not a field of the semantic stage's config")
            setattr(parts["semantic"].config, key, value)
        model = assemble_audiolm(tokenizer, codec, parts)
        for stage, values in settings.get("sampling", {}).items():  # default temperatures per stage
            for key, value in values.items():
                setattr(getattr(model.config, stage), key, value)
        for key, value in settings.get("pipeline_decoding", {}).items():  # e.g. the pitch postfilter's strength
            if not hasattr(model.config, key) or key in _STAGE_SAMPLING:
                raise SystemExit(f"{where}pipeline_decoding.{key} is not a setting of AudioLMConfig")
            setattr(model.config, key, value)
        model.config.__post_init__()  # the recipe's values checked as a user's would be
    finally:  # a refused recipe leaves no half-made folder behind
        shutil.rmtree(staging, ignore_errors=True)
    full_record = dict(record or {})
    if agreement is not None:
        full_record["token_agreement"] = agreement
    return replace_folder(model, out, full_record)


def replace_folder(model, out: Path, record: dict) -> Path:
    """Save ``model`` to ``out`` as a fresh folder swapped in whole, ``record`` as its ``recipe.json``: no component
    of an earlier recipe (say coarse_lm/ beside a new acoustic_lm/) survives, and an interrupted run leaves the old
    folder intact; half-width storage halves the download, and the codec's bytes are the same in both kinds'
    folders (git keeps one)."""
    from audiolm_lib.serialization import atomic_write_text

    fresh, retired = out.parent / f".{out.name}.new", out.parent / f".{out.name}.old"
    for leftover in (fresh, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    model.save_pretrained(fresh, dtype="float16")
    atomic_write_text(fresh / "recipe.json", json.dumps(record, indent=2) + "\n")
    if out.exists():
        out.rename(retired)
    fresh.rename(out)
    shutil.rmtree(retired, ignore_errors=True)
    print("saved", out)
    return out


def swap_codec(model_dir: Path, codec_dir: Path, check_audio: list[Path], out: Path | None = None) -> Path:
    """Put a codec with a retrained decoder into an AudioLM folder, keeping its stages.

    Allowed only when the new codec gives the codes the stages were trained on: the weights that decide the ids are
    bit-identical (:func:`~audiolm_lib.provenance.tokens_digest`, checked after the half-width round trip a user's
    load goes through) and ``check_audio`` encodes to the same codes. The stages' ``trained_on`` records are then
    re-stamped with the new codec's identity, so the folder loads without a provenance warning.
    """
    from audiolm_lib.audio import load_audio
    from audiolm_lib.pipeline import AudioLM
    from audiolm_lib.provenance import component_identity, identity_summary, tokens_digest
    from audiolm_lib.serialization import load_pretrained

    out = out or model_dir
    model = AudioLM.from_pretrained(model_dir)
    staging = out.parent / f".{out.name}.codec-staging"
    shutil.rmtree(staging, ignore_errors=True)
    load_pretrained(codec_dir).save_pretrained(staging, dtype="float16")
    codec = load_pretrained(staging).eval()
    shutil.rmtree(staging)
    digest = tokens_digest(codec)
    if digest is None or digest != tokens_digest(model.codec):
        raise SystemExit(f"{codec_dir}: its encoder or codebooks differ from {model_dir}'s codec: the stages' codes "
                         "would change; retrain with train_decoder_only")
    for path in check_audio:
        wave = load_audio(path, sample_rate=model.codec.sample_rate)[None]
        with torch.inference_mode():
            if not torch.equal(codec.encode(wave), model.codec.encode(wave)):
                raise SystemExit(f"{codec_dir}: encodes {path} to other codes than {model_dir}'s codec")
    summary = identity_summary(component_identity(codec), codec)
    for part in model.components().values():
        trained_on = getattr(part, "trained_on", None)
        if isinstance(trained_on, dict) and "codec" in trained_on:
            part.trained_on = dict(trained_on, codec=summary)
    swapped = AudioLM(model.semantic_tokenizer, codec, model.semantic_lm, config=model.config,
                      acoustic=model.acoustic).eval()
    record_path = model_dir / "recipe.json"
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.exists() else {}
    record["codec_swapped_in"] = {"from": str(codec_dir), "checked_clips": len(check_audio)}
    return replace_folder(swapped, out, record)


def token_agreement(tokenizer, codec, cache_dir: Path, audio_of: dict[str, Path], items: int = 24) -> dict[str, float]:
    """Share of semantic ids and of level-1 / all codes that ``tokenizer`` / ``codec`` reproduce on the first
    ``items`` validation items of the token cache at ``cache_dir`` (``audio_of``: item id -> its audio file)."""
    from audiolm_lib.audio import load_audio
    from audiolm_lib.training.token_cache import TokenCache

    cache = TokenCache(cache_dir)
    same = {"semantic": [0, 0], "codes_level1": [0, 0], "codes_all": [0, 0]}
    for index in cache.indices("valid")[:items]:
        item = cache[index]
        wave = load_audio(audio_of[item["id"]], sample_rate=16000)[None]
        with torch.inference_mode():
            semantic = tokenizer.tokenize(wave, 16000)[0]
            codes = codec.encode(wave)[0]
        for key, new, old in (("semantic", semantic, item["semantic"]), ("codes_level1", codes[0], item["acoustic"][0]),
                              ("codes_all", codes, item["acoustic"])):
            length = min(new.shape[-1], old.shape[-1])
            same[key][0] += int((new[..., :length] == old[..., :length]).sum())
            same[key][1] += new[..., :length].numel()
    return {key: round(hits / max(1, total), 5) for key, (hits, total) in same.items()}
