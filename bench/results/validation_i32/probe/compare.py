"""Means over seeds of each setting (validation ladder JSON, NAME_s?.json in this folder) against a base setting's:
python3 compare.py [--base NAME] NAME... (base default: pf10, the shipped decoding since rule 22)."""
import glob
import json
import sys
from pathlib import Path

FOLDER = str(Path(__file__).resolve().parents[1]) + "/"
MEASURES = ("speaker_similarity", "voiced_share", "dnsmos_ovrl")


def means(name):
    out = {}
    for path in sorted(glob.glob(FOLDER + f"{name}_s?.json")):
        for row in json.load(open(path))["runs"][0]["rows"]:
            if row["rung"] in ("acoustic", "pipeline"):
                out.setdefault((row["set"], row["rung"]), []).append(row)
    return {key: {m: sum(r[m] for r in rows) / len(rows) for m in MEASURES} for key, rows in out.items()}


names = sys.argv[1:]
base_name = "pf10"
if names[:1] == ["--base"]:
    base_name, names = names[1], names[2:]
base = means(base_name)
for name in names:
    for key, x in sorted(means(name).items()):
        b = base[key]
        print(f"{name:7s} {key[0]:9s} {key[1]:9s} sim {x['speaker_similarity']:.3f} "
              f"({x['speaker_similarity'] - b['speaker_similarity']:+.3f}) voiced {x['voiced_share']:.2f} "
              f"({x['voiced_share'] / b['voiced_share']:.2f}x) dnsmos {x['dnsmos_ovrl']:.2f} "
              f"({x['dnsmos_ovrl'] / b['dnsmos_ovrl']:.3f}x)")
