"""Summary of variants' JSONs, merged: per set means and paired deltas (item-level), DNSMOS ratios.
    python3 merge.py A.json B.json ..."""
import sys, json, statistics
items = [o for f in sys.argv[1:] for o in json.load(open(f))["items"]]
keys = [k for k in items[0] if "/" in k]
names = sorted({k.split("/")[1] for k in keys}, key=lambda n: (n != "none", n))
for s in ("recorded", "speech"):
    sub = [o for o in items if o["set"] == s]
    print(f"== {s} ({len(sub)} items)")
    def mean(key, m):
        v = [o[key][m] for o in sub if o[key][m] is not None]; return statistics.mean(v)
    for name in names:
        line = f"{name:16s}"
        for rung in ("resynthesis", "pipeline"):
            key = f"{rung}/{name}"
            for m in ("dnsmos", "voiced", "speaker"):
                d = [o[key][m] - o[f"{rung}/none"][m] for o in sub if o[key][m] is not None and o[f"{rung}/none"][m] is not None]
                se = statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else 0
                line += f" {rung[:3]}.{m[:3]} {mean(key, m):.3f}({statistics.mean(d):+.3f}±{se:.3f})"
        line += f"  ratio_raw {mean(f'pipeline/{name}', 'dnsmos') / mean('resynthesis/none', 'dnsmos'):.3f}"
        line += f" ratio_same {mean(f'pipeline/{name}', 'dnsmos') / mean(f'resynthesis/{name}', 'dnsmos'):.3f}"
        print(line)
