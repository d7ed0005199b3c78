"""Rule 47's criteria (README.md): gam65 against vm on seeds 42-43 and the low copies 40-99.

    python3 rule47.py --dir rule47 --codec rule47/rule47_codec.json --json rule47/rule47.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "validation_i35"))
sys.path.insert(0, str(HERE.parent / "validation_i40"))
from against_resynthesis import summarise  # noqa: E402
from rule44 import resynthesis  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--codec", type=Path, required=True, help="pghi_variants.py's rule47 output")
    parser.add_argument("--seeds", default="42,43")
    parser.add_argument("--candidate", default="gam65")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    base, new = summarise(args.dir, "vm", seeds), summarise(args.dir, args.candidate, seeds)
    base_resynthesis = resynthesis(args.dir, "vm", seeds)
    new_resynthesis = resynthesis(args.dir, args.candidate, seeds)
    checks = []

    def check(name: str, value: float, bound: float, at_most: bool = False) -> None:
        met = value <= bound + 1e-12 if at_most else value >= bound - 1e-12
        checks.append({"criterion": name, "value": value, "bound": bound, "at_most": at_most, "met": met})

    for key in ("recorded", "speech"):
        b, n = base["sets"][key], new["sets"][key]
        check(f"1 {key} speaker rung c", n["speaker_similarity_acoustic"], b["speaker_similarity_acoustic"] - 0.01)
        check(f"1 {key} speaker pipeline", n["speaker_similarity_pipeline"], b["speaker_similarity_pipeline"] - 0.01)
        check(f"2 {key} voiced pipeline", n["voiced_pipeline"], b["voiced_pipeline"])
        check(f"3 {key} DNSMOS over resynthesis", n["dnsmos_over_resynthesis"], b["dnsmos_over_resynthesis"] - 0.01)
        check(f"4 {key} resynthesis DNSMOS", new_resynthesis[key]["dnsmos"], base_resynthesis[key]["dnsmos"] - 0.03)
        check(f"4 {key} resynthesis speaker", new_resynthesis[key]["speaker"], base_resynthesis[key]["speaker"] - 0.01)
    check("3 continuous recorded voices' ratio", new["continuous_recorded"], base["continuous_recorded"] - 0.01)
    codec = json.loads(args.codec.read_text())["means"]
    check("5 low copies voiced", codec["gamma0.65"]["voiced"], codec["pghi"]["voiced"] + 0.02)
    check("5 low copies DNSMOS", codec["gamma0.65"]["dnsmos"], codec["pghi"]["dnsmos"] - 0.03)
    check("5 low copies log-mel", codec["gamma0.65"]["mel"], codec["pghi"]["mel"] + 0.02, True)
    for row in checks:
        sign = "<=" if row["at_most"] else ">="
        print(f"{'met ' if row['met'] else 'MISS'} {row['criterion']:45s} {row['value']:.4f} ({sign} {row['bound']:.4f})")
    met = all(row["met"] for row in checks)
    print("all criteria", "are met" if met else "are not all met")
    if args.json:
        args.json.write_text(json.dumps({"checks": checks, "met": met, "vm": base, args.candidate: new}, indent=1))


if __name__ == "__main__":
    main()
