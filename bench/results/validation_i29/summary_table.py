"""Means over seeds of `bench/validation_ladder.py` JSON files: speaker similarity, voiced share and DNSMOS OVRL of
rung c (`acoustic`) and the full pipeline, per model tag (the file name before `_s<seed>`), setting and set.

    python3 summary_table.py ../validation_i27/shipped_s0.json ../validation_i27/shipped_s1.json control_s*.json
"""
import collections
import json
import sys
from pathlib import Path

rows = collections.defaultdict(list)
for name in sys.argv[1:]:
    tag = Path(name).stem.rsplit("_s", 1)[0]
    for run in json.loads(Path(name).read_text())["runs"]:
        setting = json.dumps(run["setting"]) if run["setting"] else ""
        for row in run["rows"]:
            if row["rung"] in ("acoustic", "pipeline"):
                rows[(tag, setting, row["set"], row["rung"])].append(row)
for (tag, setting, subset, rung), found in rows.items():
    mean = {key: sum(r[key] for r in found) / len(found) for key in ("speaker_similarity", "voiced_share", "dnsmos_ovrl")}
    print(f"{tag} {setting} {subset} {rung}: speaker {mean['speaker_similarity']:.3f}, voiced "
          f"{mean['voiced_share']:.3f}, DNSMOS {mean['dnsmos_ovrl']:.2f} ({len(found)} seeds)")
