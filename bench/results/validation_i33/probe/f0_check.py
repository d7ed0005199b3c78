"""Probe (issue 20, fifteenth pass): median pYIN F0 of the prompt, the real continuation and rungs c / d per validation item
(cache_waves.py's waves, seed 2): does the generator keep the prompt's pitch? Run in the folder of the caches."""
import sys, numpy as np, torch
sys.path.insert(0, "/work/main")
from audiolm_lib.eval.voicing import voicing_track
for name in ("rec_s2.pt", "gan_s2.pt"):
    rows = torch.load(name)
    for r in rows:
        med = {}
        for k in ("prompt", "real", "acoustic", "pipeline"):
            t = voicing_track(r[k], 16000)
            f = t.f0[t.voiced & t.active] if hasattr(t, "f0") else None
            med[k] = float(np.median(f)) if f is not None and len(f) else float("nan")
        print(name[:3], r["id"][:22].ljust(22), " ".join(f"{k}={v:6.1f}" for k, v in med.items()),
              " c/p cents=%.0f d/p cents=%.0f" % (1200*np.log2(med["acoustic"]/med["prompt"]), 1200*np.log2(med["pipeline"]/med["prompt"])), flush=True)
