"""Per set and rung (resynthesis b, acoustic generator c, pipeline d): mean DNSMOS OVRL, speaker similarity to the
prompt and voiced share of validation-ladder runs, means over the seeds (rule 33's sixth criterion reads rung b).

    python rungs.py [--dir FOLDER] --seeds 12,13 NAME [NAME ...]      # reads FOLDER/NAME_s{seed}.json
"""
import argparse
import json
from collections import defaultdict
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent)
parser.add_argument("--seeds", required=True)
parser.add_argument("names", nargs="+")
args = parser.parse_args()
for name in args.names:
    values = defaultdict(list)
    for seed in args.seeds.split(","):
        for item in json.loads((args.dir / f"{name}_s{seed}.json").read_text())["runs"][0]["per_item"]:
            for rung in ("resynthesis", "acoustic", "pipeline"):
                measures = item["rungs"][rung]
                values[item["set"], rung].append(
                    (measures["dnsmos_ovrl"], measures["speaker_similarity"], measures["voiced_share"]))
    print(name)
    for (data_set, rung), rows in sorted(values.items()):
        means = [sum(row[i] for row in rows) / len(rows) for i in range(3)]
        print(f"  {data_set:9s} {rung:12s} DNSMOS {means[0]:.3f}  speaker {means[1]:.3f}  voiced {means[2]:.3f}")
