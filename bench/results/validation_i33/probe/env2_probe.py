"""Probe (issue 20, fifteenth pass), env_probe.py's kNN envelope matching, variants for its sound: longer smoothing,
a smaller gain range, fewer bands, a partial strength, and the matching before the postfilter instead of after.
``python env2_probe.py WAVES.pt WAVES_WITHOUT_POSTFILTER.pt OUT.json`` (cache_waves.py's two, same seed)."""
import json
import sys

import numpy as np
import torch

sys.path.insert(0, "/work/main"); sys.path.insert(0, __file__.rsplit("/", 1)[0])
from env_probe import env_match  # noqa: E402
from eq_probe import measure  # noqa: E402

from audiolm_lib.postfilter import pitch_postfilter  # noqa: E402

RATE = 16000
postfilter = lambda w: pitch_postfilter(w[None, None], RATE, 1.0, 0.3)[0, 0]  # noqa: E731  the shipped setting

if __name__ == "__main__":
    rows, raw_rows = torch.load(sys.argv[1]), torch.load(sys.argv[2])
    settings = {"knn4": dict(k=4), "knn4_sm9_m9": dict(k=4, smooth=9, max_db=9.0), "knn4_b24": dict(k=4, bands=24),
                "knn4_s075_sm9": dict(k=4, strength=0.75, smooth=9)}
    results = []
    for row, raw in zip(rows, raw_rows):
        assert row["id"] == raw["id"]
        prompt = row["prompt"]
        out = {"id": row["id"], "set": row["set"]}
        for rung in ("acoustic", "pipeline"):
            wave, raw_wave = row[rung][: 5 * RATE], raw[rung][: 5 * RATE]
            out[f"{rung}/off"] = measure(prompt, wave)
            for name, kw in settings.items():
                out[f"{rung}/{name}"] = measure(prompt, env_match(wave, prompt, **kw))
            out[f"{rung}/knn4_before_pf"] = measure(prompt, postfilter(env_match(raw_wave, prompt, k=4)))
            out[f"{rung}/knn4_sm9_m9_before_pf"] = measure(prompt, postfilter(env_match(raw_wave, prompt, k=4, smooth=9,
                                                                                         max_db=9.0)))
        results.append(out)
        print(json.dumps(out), flush=True)
    json.dump(results, open(sys.argv[3], "w"), indent=0)
    for key in [k for k in results[0] if "/" in k]:
        print(key, {m: round(float(np.mean([r[key][m] for r in results])), 3) for m in ("sim", "voiced", "ovrl")})
