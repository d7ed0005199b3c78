"""Rule 44's criteria (README.md), pghi against vm on seeds 36-37 and the fresh low copies; rule 45's 1-5 likewise.

    python3 rule44.py --dir rule44 --low rule44/rule44_low055.json
    python3 rule44.py --dir rule45 --seeds 38,39 --candidate pghi1 --low rule45/rule45_low055.json \
        --low-key codec_mag_pghi_gl1
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "validation_i35"))
from against_resynthesis import per_item, summarise  # noqa: E402


def resynthesis(folder: Path, name: str, seeds: list[int]) -> dict:
    """Per set: the codec's own resynthesis' mean DNSMOS OVRL and speaker similarity."""
    rows: dict = {}
    for seed in seeds:
        for item in per_item(folder / f"{name}_s{seed}.json"):
            rung = item["rungs"]["resynthesis"]
            rows.setdefault(item["set"], {"dnsmos": [], "speaker": []})
            rows[item["set"]]["dnsmos"].append(rung["dnsmos_ovrl"])
            rows[item["set"]]["speaker"].append(rung["speaker_similarity"])
    return {key: {k: statistics.mean(v) for k, v in row.items()} for key, row in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--low", type=Path, required=True)
    parser.add_argument("--seeds", default="36,37")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--candidate", default="pghi", help="the candidate's run name (rule 45: pghi1)")
    parser.add_argument("--low-key", default="codec_mag_pghi_gl0", help="criterion 5's version (rule 45: ..._gl1)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    base, new = summarise(args.dir, "vm", seeds), summarise(args.dir, args.candidate, seeds)
    base_resynthesis = resynthesis(args.dir, "vm", seeds)
    new_resynthesis = resynthesis(args.dir, args.candidate, seeds)
    checks = []

    def check(name: str, value: float, bound: float) -> None:
        checks.append({"criterion": name, "value": value, "bound": bound, "met": value >= bound - 1e-12})

    for key in ("recorded", "speech"):
        b, n = base["sets"][key], new["sets"][key]
        check(f"1 {key} speaker rung c", n["speaker_similarity_acoustic"], b["speaker_similarity_acoustic"] - 0.01)
        check(f"1 {key} speaker pipeline", n["speaker_similarity_pipeline"], b["speaker_similarity_pipeline"] - 0.01)
        check(f"2 {key} voiced pipeline", n["voiced_pipeline"], b["voiced_pipeline"] - 0.01)
        gain = 0.02 if key == "recorded" else 0.0
        check(f"3 {key} DNSMOS over resynthesis", n["dnsmos_over_resynthesis"], b["dnsmos_over_resynthesis"] + gain)
        check(f"4 {key} resynthesis DNSMOS", new_resynthesis[key]["dnsmos"], base_resynthesis[key]["dnsmos"] - 0.02)
        check(f"4 {key} resynthesis speaker", new_resynthesis[key]["speaker"], base_resynthesis[key]["speaker"] - 0.01)
    check("3 continuous recorded voices' ratio", new["continuous_recorded"], base["continuous_recorded"])
    low = json.loads(args.low.read_text())["means"]
    check(f"5 low copies voiced ({args.low_key})", low[args.low_key], low["codec"] + 0.03)
    check(f"5 low copies DNSMOS ({args.low_key})", low[f"dnsmos:{args.low_key}"], low["dnsmos:codec"])
    for row in checks:
        print(f"{'met ' if row['met'] else 'MISS'} {row['criterion']:45s} {row['value']:.4f} (bound {row['bound']:.4f})")
    met = all(row["met"] for row in checks)
    print("all criteria", "are met" if met else "are not all met")
    if args.json:
        args.json.write_text(json.dumps({"checks": checks, "met": met, "vm": base, args.candidate: new}, indent=1))


if __name__ == "__main__":
    main()
