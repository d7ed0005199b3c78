"""The sixteenth pass's probe helpers (``../../validation_i34/probe/shared.py``: the shipped speech model, the
validation items, rung c and the measures), loaded from there for this pass's probes."""
import importlib.util
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "validation_i34_shared", Path(__file__).resolve().parents[2] / "validation_i34" / "probe" / "shared.py")
_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MODULE)
RATE = _MODULE.RATE
compare_variants, dnsmos, item_tokens, measure = (_MODULE.compare_variants, _MODULE.dnsmos, _MODULE.item_tokens,
                                                  _MODULE.measure)
rung_c_measures, shipped_speech_model, voice_items = (_MODULE.rung_c_measures, _MODULE.shipped_speech_model,
                                                      _MODULE.voice_items)


def compare_pipeline_variants(model, items: list[dict], variants: dict, out_path: str, seeds=(5, 6)) -> list[dict]:
    """Per item, the whole pipeline (``continue_audio``, 5 s) with each variant's acoustic generator, measured
    (:func:`measure`'s plus DNSMOS SIG and BAK, means over ``seeds``), printed as it comes; the rows to ``out_path``
    and each variant's means printed at the end. ``variants`` maps a name to ``None`` (the shipped generator) or to
    ``adapt(model, semantic_prompt, prompt_codes)``, which returns the copy to continue with (made once per item and
    variant, on the prompt tokens the pipeline itself makes: ``audiolm_lib.pipeline.acoustic_for_prompt`` is
    replaced for the run)."""
    import json

    import numpy as np
    import torch

    import audiolm_lib.pipeline as pipeline_module

    rows = []
    for item in items:
        row = {"id": item["id"]}
        for name, adapt in variants.items():
            cache = {}

            def acoustic_for_prompt(m, semantic_prompt, prompt_codes, steps=None, seed=0, adapt=adapt, cache=cache):
                if adapt is None or prompt_codes is None:
                    return m.acoustic
                if "copy" not in cache:  # one adaptation per item and variant; every generation seed uses it
                    cache["copy"] = adapt(m, semantic_prompt, prompt_codes)
                return cache["copy"]

            pipeline_module.acoustic_for_prompt = acoustic_for_prompt
            measures = []
            for seed in seeds:
                with torch.inference_mode():
                    wave = model.continue_audio(item["prompt"], 5.0, sample_rate=RATE,
                                                generator=torch.Generator().manual_seed(seed))[0, 0]
                measures.append(measure(item["prompt"], wave) | {k: v for k, v in dnsmos(wave, RATE).items()
                                                                  if k in ("sig", "bak")})
            row[name] = {k: float(np.mean([m[k] for m in measures])) for k in measures[0]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    with open(out_path, "w") as out:
        json.dump(rows, out, indent=1)
    for name in variants:
        print(name, {k: round(float(np.mean([r[name][k] for r in rows])), 3) for k in rows[0][name]})
    return rows
