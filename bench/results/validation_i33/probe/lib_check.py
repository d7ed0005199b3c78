"""Probe (issue 20, fifteenth pass): the library's PromptEnvelopeMatcher (audiolm_lib/envelope_match.py) on the
cached waves without the postfilter, then the shipped postfilter, against env2_probe.py's knn4_sm9_m9_before_pf
(the probe's own code: the activity threshold by the wave's loudest frame and a final level match, both gone).
``python lib_check.py WAVES_WITHOUT_POSTFILTER.pt OUT.json``."""
import json
import sys

import numpy as np
import torch

sys.path.insert(0, "/work/main"); sys.path.insert(0, __file__.rsplit("/", 1)[0])
from eq_probe import measure  # noqa: E402

from audiolm_lib.envelope_match import PromptEnvelopeMatcher  # noqa: E402
from audiolm_lib.postfilter import pitch_postfilter  # noqa: E402

torch.set_num_threads(1)
RATE = 16000
rows, results = torch.load(sys.argv[1]), []
for row in rows:
    matcher = PromptEnvelopeMatcher(row["prompt"][None], RATE, 1.0, 4, 9, 9.0)
    out = {"id": row["id"], "set": row["set"]}
    for rung in ("acoustic", "pipeline", "other"):
        wave = row[rung][: 5 * RATE][None, None]
        out[f"{rung}/pf"] = measure(row["prompt"], pitch_postfilter(wave, RATE, 1.0, 0.3)[0, 0])
        out[f"{rung}/em+pf"] = measure(row["prompt"], pitch_postfilter(matcher(wave), RATE, 1.0, 0.3)[0, 0])
    results.append(out)
    print(json.dumps(out), flush=True)
json.dump(results, open(sys.argv[2], "w"), indent=0)
for key in [k for k in results[0] if "/" in k]:
    print(key, {m: round(float(np.mean([r[key][m] for r in results])), 3) for m in ("sim", "voiced", "ovrl")})
