"""Issue 20's continuation targets from one or several quality-benchmark JSONs, with their uncertainty.

    python bench/targets.py bench/results/validation_i41/heldout/ladder_s0-2.json \
        bench/results/validation_i41/heldout/ladder_s3-4.json [--json OUT.json] [--markdown OUT.md]

Reads ``bench/quality.py --sections ladder --out`` JSONs (``--seeds`` runs keep each seed's run; the files' seeds of
one model are pooled: run seeds 0-2 and 3-4 in two processes and read them as five). Per model, held-out set and
target: the reading at rung d, its bound from the same run's references, the margin, its seed-to-seed standard
error and a 95 % bootstrap interval over the set's items (:mod:`audiolm_lib.eval.targets`). Prints a Markdown
table; exit code 0 (a missed target is a reading, not an error).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="bench/quality.py --out JSONs with a ladder section")
    parser.add_argument("--json", type=Path, default=None, help="write the readings here")
    parser.add_argument("--markdown", type=Path, default=None, help="write the table here")
    args = parser.parse_args(argv)

    from audiolm_lib.atomic import atomic_write_text
    from audiolm_lib.eval.targets import readings_markdown, seed_runs_by_model, target_readings

    models: dict[str, list] = {}
    seen: dict[str, set] = {}
    for path in args.results:
        if not path.is_file():
            raise FileNotFoundError(f"no such results file: {path}")
        results = json.loads(path.read_text(encoding="utf-8"))
        for name, runs in seed_runs_by_model(results).items():
            for run in runs:
                seed = run.get("config", {}).get("seed")
                if seed in seen.setdefault(name, set()):  # the same seed in two files would count twice
                    raise ValueError(f"{path}: model {name!r} has seed {seed} in an earlier file too")
                seen[name].add(seed)
                models.setdefault(name, []).append(run)
    readings = {name: target_readings(runs) for name, runs in models.items()}
    lines = readings_markdown(readings)
    if not lines:
        raise ValueError("no oracle ladder in these results: run bench/quality.py with --sections ladder")
    markdown = "\n".join(lines)
    print(markdown)
    if args.markdown is not None:
        atomic_write_text(args.markdown, markdown)
    if args.json is not None:
        atomic_write_text(args.json, json.dumps({"files": [str(p) for p in args.results], "readings": readings},
                                                indent=1) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
