"""Denoising variants on saved ladder waves: DNSMOS, voiced share, speaker similarity per set (means) + paired deltas.
    PYTHONPATH=/work/main python3 variants.py OUT.json W1.pt [W2.pt ...]"""
import sys, json, statistics, torch, numpy as np, noisereduce as nr
from audiolm_lib.eval.perceptual import dnsmos
from audiolm_lib.eval.speaker import speaker_similarity
from audiolm_lib.eval.voicing import voicing_report
torch.set_num_threads(1)
R = 16000
def nrv(**kw):
    return lambda w, p: torch.from_numpy(nr.reduce_noise(y=w.numpy(), sr=R, **kw).astype(np.float32))
VARIANTS = {
    "none": lambda w, p: w,
    "ns_p1": nrv(stationary=False, prop_decrease=1.0),
    "ns_p05": nrv(stationary=False, prop_decrease=0.5),
    "st_self_p1": nrv(stationary=True, prop_decrease=1.0),
    "st_self_p05": nrv(stationary=True, prop_decrease=0.5),
    "st_prompt_p1": lambda w, p: torch.from_numpy(nr.reduce_noise(y=w.numpy(), sr=R, stationary=True, y_noise=p.numpy(), prop_decrease=1.0).astype(np.float32)),
    "st_prompt_p05": lambda w, p: torch.from_numpy(nr.reduce_noise(y=w.numpy(), sr=R, stationary=True, y_noise=p.numpy(), prop_decrease=0.5).astype(np.float32)),
}
if len(sys.argv) > 3 and sys.argv[2] == "--only":
    keep = sys.argv[3].split(","); VARIANTS = {k: v for k, v in VARIANTS.items() if k in keep}; files = sys.argv[4:]
else:
    files = sys.argv[2:]
rows = [r for f in files for r in torch.load(f)]
out = []
for r in rows:
    rec = {"id": r["id"], "set": r["set"]}
    for rung in ("resynthesis", "pipeline"):
        for name, fn in VARIANTS.items():
            w = fn(r[rung].float(), r["prompt"].float())
            rec[f"{rung}/{name}"] = {"dnsmos": dnsmos(w, R)["ovrl"], "voiced": voicing_report(w.numpy(), R)["voiced_share"],
                                    "speaker": speaker_similarity(r["prompt"], w, R)}
    out.append(rec); print(r["id"], flush=True)
json.dump({"items": out}, open(sys.argv[1], "w"))
summary = {}
for s in ("recorded", "speech"):
    sub = [o for o in out if o["set"] == s]
    if len(sub) < 2: continue
    for key in [k for k in out[0] if "/" in k]:
        summary[f"{s}:{key}"] = {m: round(statistics.mean(o[key][m] for o in sub if o[key][m] is not None), 4) for m in ("dnsmos", "voiced", "speaker")}
    for rung in ("resynthesis", "pipeline"):
        for name in VARIANTS:
            for m in ("dnsmos", "voiced", "speaker"):
                d = [o[f"{rung}/{name}"][m] - o[f"{rung}/none"][m] for o in sub if o[f"{rung}/{name}"][m] is not None and o[f"{rung}/none"][m] is not None]
                summary[f"{s}:{rung}/{name}"][f"d_{m}"] = f"{statistics.mean(d):+.3f}+-{statistics.stdev(d)/len(d)**0.5:.3f}"
    for name in VARIANTS if len(sub) > 1 else []:  # ratio of pipeline DNSMOS to the (undenoised) resynthesis', and to the denoised one
        summary[f"{s}:ratio/{name}"] = {"vs_raw_resyn": round(summary[f"{s}:pipeline/{name}"]["dnsmos"] / summary[f"{s}:resynthesis/none"]["dnsmos"], 3),
                                        "vs_same_resyn": round(summary[f"{s}:pipeline/{name}"]["dnsmos"] / summary[f"{s}:resynthesis/{name}"]["dnsmos"], 3)}
print(json.dumps(summary, indent=0)); json.dump({"items": out, "summary": summary}, open(sys.argv[1], "w"))
