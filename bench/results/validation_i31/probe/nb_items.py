"""Means over the narrowband recorded items (armelle, es-co, menardi) of runs: python3 nb_items.py FILE_GLOB..."""
import glob, json, sys
NB = ("asterisk:armelle", "asterisk:es-co", "asterisk:menardi")
for pattern in sys.argv[1:]:
    acc = {}
    for f in sorted(glob.glob(pattern)):
        for item in json.load(open(f))["runs"][0]["per_item"]:
            if item["set"] != "recorded":
                continue
            group = "narrow" if item["id"].split("#")[0] in NB else "wide"
            for rung in ("resynthesis", "acoustic", "pipeline"):
                for m in ("speaker_similarity", "voiced_share", "dnsmos_ovrl"):
                    acc.setdefault((group, rung, m), []).append(item["rungs"][rung][m])
    for group in ("narrow", "wide"):
        print(pattern, group, " | ".join(f"{rung}: " + " / ".join(f"{sum(acc[(group, rung, m)]) / len(acc[(group, rung, m)]):.3f}"
              for m in ("speaker_similarity", "voiced_share", "dnsmos_ovrl")) for rung in ("resynthesis", "acoustic", "pipeline")))
