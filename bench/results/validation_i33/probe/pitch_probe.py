"""Probe (issue 20, fifteenth pass): the generator's continuations sit near 215 Hz whatever the prompt's pitch (f0 of
rung c against the prompt's: up to +-1500 cents). Here each continuation's pitch is moved, formants kept (Praat's
PSOLA overlap-add through parselmouth), by the ratio of the prompt's median F0 to its own, then optionally through
the long-term spectrum EQ of eq_probe.py. ``python pitch_probe.py WAVES.pt OUT.json``. Needs ``pip install
praat-parselmouth`` (GPL; this probe only, not a dependency of the library or its tests)."""
import json
import sys

import numpy as np
import parselmouth
import torch
from parselmouth.praat import call

sys.path.insert(0, "/work/main"); sys.path.insert(0, __file__.rsplit("/", 1)[0])
from eq_probe import eq, measure  # noqa: E402

RATE = 16000


def median_f0(wave):
    pitch = parselmouth.Sound(wave.numpy().astype(np.float64), RATE).to_pitch_ac(0.01, 60, 500)
    f0 = pitch.selected_array["frequency"]
    f0 = f0[f0 > 0]
    return float(np.median(f0)) if len(f0) else None


def shift_pitch(wave, factor):
    sound = parselmouth.Sound(wave.numpy().astype(np.float64), RATE)
    manipulation = call(sound, "To Manipulation", 0.01, 60, 500)
    tier = call(manipulation, "Extract pitch tier")
    call(tier, "Multiply frequencies", sound.xmin, sound.xmax, factor)
    call([tier, manipulation], "Replace pitch tier")
    out = call(manipulation, "Get resynthesis (overlap-add)").values[0]
    out = torch.from_numpy(out).float()[: wave.shape[-1]]
    return torch.nn.functional.pad(out, (0, wave.shape[-1] - out.shape[-1]))


if __name__ == "__main__":
    rows = torch.load(sys.argv[1])
    results = []
    for row in rows:
        prompt = row["prompt"]
        target = median_f0(prompt)
        out = {"id": row["id"], "set": row["set"], "prompt_f0": target}
        for rung in ("acoustic", "pipeline", "other"):
            wave = row[rung][: 5 * RATE]
            own = median_f0(wave)
            factor = 1.0 if (target is None or own is None) else float(np.clip(target / own, 0.5, 2.0))
            out[f"{rung}/f0"], out[f"{rung}/factor"] = own, factor
            shifted = shift_pitch(wave, factor) if factor != 1.0 else wave
            out[f"{rung}/off"] = measure(prompt, wave)
            out[f"{rung}/pitch"] = measure(prompt, shifted)
            out[f"{rung}/pitch+eq05"] = measure(prompt, eq(shifted, prompt, strength=0.5))
            out[f"{rung}/pitch+eq10"] = measure(prompt, eq(shifted, prompt, strength=1.0))
        results.append(out)
        print(json.dumps(out), flush=True)
    json.dump(results, open(sys.argv[2], "w"), indent=0)
    for key in [k for k in results[0] if k.count("/") == 1 and isinstance(results[0][k], dict)]:
        print(key, {m: round(float(np.mean([r[key][m] for r in results])), 3) for m in ("sim", "voiced", "ovrl")})
