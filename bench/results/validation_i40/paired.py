"""Per-item paired differences of a voice-matching setting against the shipped matching (issue 20, twenty-fourth
pass): the same item, seed and generation before matching, so only the matching differs.

    python3 paired.py --dir DIR --seeds 34,35 vm cw1

Prints per set (recorded, TTS) and rung (c: the generator through matching; d: the pipeline) the mean difference and
its standard error over items, for speaker similarity to the prompt, voiced share and DNSMOS OVRL.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

MEASURES = ("speaker_similarity", "voiced_share", "dnsmos_ovrl")


def items(path: Path) -> dict[str, dict]:
    return {item["id"]: item for item in json.loads(path.read_text())["runs"][0]["per_item"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("."))
    parser.add_argument("--seeds", required=True)
    parser.add_argument("base")
    parser.add_argument("setting")
    args = parser.parse_args()
    differences: dict[tuple, list[float]] = {}
    for seed in args.seeds.split(","):
        base, other = items(args.dir / f"{args.base}_s{seed}.json"), items(args.dir / f"{args.setting}_s{seed}.json")
        for key, item in base.items():
            for rung in ("acoustic", "pipeline"):
                for measure in MEASURES:
                    a, b = item["rungs"][rung].get(measure), other[key]["rungs"][rung].get(measure)
                    if a is not None and b is not None:
                        differences.setdefault((item["set"], rung, measure), []).append(b - a)
    print(f"{args.setting} - {args.base}, seeds {args.seeds} (mean +- standard error over items)")
    for (kind, rung, measure), values in sorted(differences.items()):
        error = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
        print(f"  {kind:9s} {'c' if rung == 'acoustic' else 'd'} {measure:19s} {statistics.mean(values):+.3f} "
              f"+- {error:.3f} (n={len(values)})")


if __name__ == "__main__":
    main()
