"""Rule 46's criteria (README.md): tol6 against vm on seeds 40-41 and the fresh recorded clips.

    python3 rule46.py --dir rule46 --codec rule46/rule46_codec.json --json rule46/rule46.json

:class:`Checks` and :func:`pipeline_checks` (criteria 1-4) serve rule 47 too (``rule47.py``).
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


class Checks(list):
    """The rule's checks: each a criterion, its value and bound, and whether it is met."""

    def check(self, name: str, value: float, bound: float, at_most: bool = False) -> None:
        met = value <= bound + 1e-12 if at_most else value >= bound - 1e-12
        self.append({"criterion": name, "value": value, "bound": bound, "at_most": at_most, "met": met})

    def report(self, path: Path | None, extra: dict) -> None:
        for row in self:
            sign = "<=" if row["at_most"] else ">="
            print(f"{'met ' if row['met'] else 'MISS'} {row['criterion']:45s} {row['value']:.4f} ({sign} {row['bound']:.4f})")
        met = all(row["met"] for row in self)
        print("all criteria", "are met" if met else "are not all met")
        if path:
            path.write_text(json.dumps({"checks": list(self), "met": met, **extra}, indent=1))


def pipeline_checks(folder: Path, candidate: str, seeds: list[int], voiced_margin: float) -> tuple[Checks, dict]:
    """Criteria 1-4 of rules 46 and 47 (the candidate's runs against vm's); ``voiced_margin``: criterion 2's."""
    base, new = summarise(folder, "vm", seeds), summarise(folder, candidate, seeds)
    base_resynthesis, new_resynthesis = resynthesis(folder, "vm", seeds), resynthesis(folder, candidate, seeds)
    checks = Checks()
    for key in ("recorded", "speech"):
        b, n = base["sets"][key], new["sets"][key]
        checks.check(f"1 {key} speaker rung c", n["speaker_similarity_acoustic"], b["speaker_similarity_acoustic"] - 0.01)
        checks.check(f"1 {key} speaker pipeline", n["speaker_similarity_pipeline"],
                     b["speaker_similarity_pipeline"] - 0.01)
        checks.check(f"2 {key} voiced pipeline", n["voiced_pipeline"], b["voiced_pipeline"] - voiced_margin)
        checks.check(f"3 {key} DNSMOS over resynthesis", n["dnsmos_over_resynthesis"],
                     b["dnsmos_over_resynthesis"] - 0.01)
        checks.check(f"4 {key} resynthesis DNSMOS", new_resynthesis[key]["dnsmos"],
                     base_resynthesis[key]["dnsmos"] - 0.03)
        checks.check(f"4 {key} resynthesis speaker", new_resynthesis[key]["speaker"],
                     base_resynthesis[key]["speaker"] - 0.01)
    checks.check("3 continuous recorded voices' ratio", new["continuous_recorded"], base["continuous_recorded"] - 0.01)
    return checks, {"vm": base, candidate: new}


def arguments(doc: str, rule: int, seeds: str) -> argparse.Namespace:
    """The command line of rules 46 and 47: the runs' folder, the codec check's JSON, the seeds, the report."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--codec", type=Path, required=True, help=f"pghi_variants.py's rule{rule} output")
    parser.add_argument("--seeds", default=seeds)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.codec_means = json.loads(args.codec.read_text())["means"]
    return args


def main() -> None:
    args = arguments(__doc__, 46, "40,41")
    checks, summaries = pipeline_checks(args.dir, "tol6", args.seeds, 0.01)
    codec = args.codec_means
    checks.check("5 fresh clips log-mel below vm's - 0.04", codec["tol1e-06"]["mel"], codec["pghi"]["mel"] - 0.04, True)
    checks.check("5 fresh clips log-mel vs pre-PGHI + 0.03", codec["tol1e-06"]["mel"],
                 codec["codec_locked8"]["mel"] + 0.03, True)
    checks.check("5 fresh clips voiced", codec["tol1e-06"]["voiced"], codec["pghi"]["voiced"] - 0.01)
    checks.check("5 fresh clips DNSMOS", codec["tol1e-06"]["dnsmos"], codec["pghi"]["dnsmos"] - 0.03)
    checks.report(args.json, summaries)


if __name__ == "__main__":
    main()
