"""Probe (issue 20, fifteenth pass, after rule 24's held-out check): envelope matching on validation recordings put
through held-out-like recording conditions (cache_waves.py ... off telephone|room), where rule 24's held-out check
found the sound cost that the clean validation recordings did not show. Variants: the matcher as it is (em10, em05);
matched to the codec's resynthesis of the prompt instead of the prompt (the generated audio's own domain: the
recording's channel left out); only cuts (no band raised); only loud frames (20 dB of the prompt's loudest).
``python cond_probe.py WAVES_WITHOUT_POSTFILTER.pt OUT.json``; DNSMOS also of rung b (the targets' reference)."""
import json
import sys

import numpy as np
import torch

sys.path.insert(0, "/work/main"); sys.path.insert(0, __file__.rsplit("/", 1)[0])
from eq_probe import measure  # noqa: E402

import audiolm_lib.envelope_match as envelope_match  # noqa: E402
from audiolm_lib.envelope_match import PromptEnvelopeMatcher  # noqa: E402
from audiolm_lib.eval.perceptual import dnsmos  # noqa: E402
from audiolm_lib.pipeline import AudioLM  # noqa: E402
from audiolm_lib.postfilter import pitch_postfilter  # noqa: E402

torch.set_num_threads(1)
RATE = 16000
codec = AudioLM.from_pretrained("/work/main/checkpoints/speech").codec.eval()


class CutsOnly(PromptEnvelopeMatcher):
    def band_gains(self, power, item):
        return super().band_gains(power, item).clamp(max=0.0)


def variants(prompt):
    with torch.inference_mode():
        resynthesised = codec.decode(codec.encode(prompt[None, None]))[0, 0, : len(prompt)]
    envelope_match.ACTIVE_DB = 20.0
    loud = PromptEnvelopeMatcher(prompt[None], RATE)
    envelope_match.ACTIVE_DB = 40.0
    return {"em10": PromptEnvelopeMatcher(prompt[None], RATE), "em05": PromptEnvelopeMatcher(prompt[None], RATE, 0.5),
            "em10_resynth_ref": PromptEnvelopeMatcher(resynthesised[None], RATE),
            "em10_cuts": CutsOnly(prompt[None], RATE), "em10_loud20": loud}


if __name__ == "__main__":
    rows, results = torch.load(sys.argv[1]), []
    for row in rows:
        prompt = row["prompt"]
        out = {"id": row["id"], "set": row["set"], "condition": row.get("condition"),
               "resynthesis_ovrl": dnsmos(row["resynthesis"][: 5 * RATE], RATE)["ovrl"]}
        matchers = variants(prompt)
        for rung in ("acoustic", "pipeline"):
            wave = row[rung][: 5 * RATE][None, None]
            out[f"{rung}/pf10"] = measure(prompt, pitch_postfilter(wave, RATE, 1.0, 0.3)[0, 0])
            for name, matcher in matchers.items():
                out[f"{rung}/{name}"] = measure(prompt, pitch_postfilter(matcher(wave), RATE, 1.0, 0.3)[0, 0])
        results.append(out)
        print(json.dumps(out), flush=True)
    json.dump(results, open(sys.argv[2], "w"), indent=0)
    b = float(np.mean([r["resynthesis_ovrl"] for r in results]))
    print("rung b DNSMOS", round(b, 3))
    for key in [k for k in results[0] if "/" in k]:
        means = {m: float(np.mean([r[key][m] for r in results])) for m in ("sim", "voiced", "ovrl")}
        print(key, {m: round(v, 3) for m, v in means.items()}, "ovrl/b %.3f" % (means["ovrl"] / b))
