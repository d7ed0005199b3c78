"""Probe (issue 20, fifteenth pass, for the next rule): envelope-matching variants judged per voice, on cache_waves.py's
seed-2 waves without the postfilter (then pf10). A held-out set is one voice, so what matters is the worst voices'
DNSMOS, not the mean (per_voice.py). Variants: em10 and em05 as they ship; em10 keeping each frame's energy (not
only its mean log level); em10 trusting a frame's match by how alike its nearest prompt frames are (gain scaled by
(cosine - 0.6) / 0.3, clipped to [0, 1]); em10 clipped to 6 dB. ``python robust_probe.py OUT.json WAVES.pt...``."""
import json
import sys
from collections import defaultdict

import numpy as np
import torch

sys.path.insert(0, "/work/main"); sys.path.insert(0, __file__.rsplit("/", 1)[0])
from eq_probe import measure  # noqa: E402

from audiolm_lib.envelope_match import FRAMES_PER_BLOCK, PromptEnvelopeMatcher, _unit  # noqa: E402
from audiolm_lib.postfilter import pitch_postfilter  # noqa: E402

torch.set_num_threads(1)
RATE = 16000


class EnergyKept(PromptEnvelopeMatcher):
    def band_gains(self, power, item):
        gains = super().band_gains(power, item)
        mel_power = self.mel @ power + 1e-9
        after = (mel_power * 10 ** (gains / 10)).sum(0)
        return gains - 10 * torch.log10(after / mel_power.sum(0))  # each frame's energy as it was


class Trusted(PromptEnvelopeMatcher):
    def band_gains(self, power, item):
        gains = super().band_gains(power, item)
        reference = self.references[item]
        if reference is None:
            return gains
        own = (self.mel @ power + 1e-9).log()
        k = min(self.neighbours, reference[0].shape[-1])
        trust = torch.empty(own.shape[-1])
        for start in range(0, own.shape[-1], FRAMES_PER_BLOCK):
            sims = _unit(own[:, start:start + FRAMES_PER_BLOCK]).T @ reference[0]
            trust[start:start + FRAMES_PER_BLOCK] = sims.topk(k, dim=-1).values.mean(-1)
        return gains * ((trust - 0.6) / 0.3).clamp(0, 1)[None]


VARIANTS = {"em10": lambda p: PromptEnvelopeMatcher(p, RATE), "em05": lambda p: PromptEnvelopeMatcher(p, RATE, 0.5),
            "em10_energy": lambda p: EnergyKept(p, RATE), "em10_trust": lambda p: Trusted(p, RATE),
            "em10_6db": lambda p: PromptEnvelopeMatcher(p, RATE, max_gain_db=6.0)}

if __name__ == "__main__":
    results = []
    for path in sys.argv[2:]:
        for row in torch.load(path):
            prompt = row["prompt"]
            out = {"id": row["id"], "set": row["set"], "condition": row.get("condition", "clean")}
            wave = row["pipeline"][: 5 * RATE][None, None]
            out["pf10"] = measure(prompt, pitch_postfilter(wave, RATE, 1.0, 0.3)[0, 0])
            for name, make in VARIANTS.items():
                out[name] = measure(prompt, pitch_postfilter(make(prompt[None])(wave), RATE, 1.0, 0.3)[0, 0])
            results.append(out)
            print(json.dumps(out), flush=True)
    json.dump(results, open(sys.argv[1], "w"), indent=0)
    for name in VARIANTS:
        ratio, gain = defaultdict(list), defaultdict(list)
        for r in results:
            voice = (r["condition"], r["id"].split("#")[0])
            ratio[voice].append(r[name]["ovrl"] / r["pf10"]["ovrl"])
            gain[voice].append(r[name]["sim"] - r["pf10"]["sim"])
        ratios = sorted(float(np.mean(v)) for v in ratio.values())
        print(f"{name:12s} pipeline, per voice: DNSMOS x min {ratios[0]:.3f} median {ratios[len(ratios) // 2]:.3f} "
              f"below 0.9x {sum(v < 0.9 for v in ratios)}/{len(ratios)}; speaker similarity "
              f"{np.mean([np.mean(v) for v in gain.values()]):+.3f}")
