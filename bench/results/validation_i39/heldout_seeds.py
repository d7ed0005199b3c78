"""The shipped speech model's held-out speech targets on several sampling seeds (issue 20, twenty-third pass).

Reads `bench/quality.py checkpoints/speech [/work/cand/vm] --domain speech --sections ladder|continuation --seed S`
JSONs. Seed 0 is the run of that name in `../validation_i38/heldout_vm.json` (for the shipped model, "speech"), whose ladder rows are the targets' readings of every
closing note. For each held-out set it prints every target's reading per seed, their mean and their range: how much
of a reading is the draw. Measurement only; nothing is chosen on it.

    python3 heldout_seeds.py heldout_seeds/ladder_pf10_s*.json
    python3 heldout_seeds.py --section continuation heldout_seeds/pf10_s*.json
    python3 heldout_seeds.py --name vm heldout_seeds/ladder_vm_s*.json   (rule 43)
    (--markdown F: the section's tables of the mean run, as `bench/quality.py --seeds 0-4` prints them)
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED_ZERO = HERE.parent / "validation_i38" / "heldout_vm.json"  # its run named "speech" is checkpoints/speech


def ladder_targets(rows: list[dict]) -> dict[str, dict[str, float]]:
    """``{set: {target: reading}}`` from the ladder's rows (rung d against rungs a and b)."""
    by_set: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_set.setdefault(row["set"], {})[row["rung"]] = row
    return {name: {"speaker similarity": rungs["pipeline"]["speaker_similarity"],
                   "different speaker": rungs["pipeline"]["different_speaker_baseline"],
                   "voiced share / real": rungs["pipeline"]["voiced_share"] / rungs["real"]["voiced_share"],
                   "DNSMOS / resynthesis": rungs["pipeline"]["dnsmos_ovrl"] / rungs["resynthesis"]["dnsmos_ovrl"]}
            for name, rungs in by_set.items()}


def continuation_targets(rows: list[dict]) -> dict[str, dict[str, float]]:
    """The same from the continuation report's rows (one item per speaker)."""
    return {row["set"]: {"speaker similarity": row["speaker_similarity"],
                         "different speaker": row["different_speaker_baseline"],
                         "voiced share / real": row["voiced_share_generated"] / row["voiced_share_real"],
                         "DNSMOS / resynthesis": row["dnsmos_ovrl_generated"] / row["dnsmos_ovrl_resynthesis"]}
            for row in rows}


def readings(run: dict, section: str) -> dict[str, dict[str, float]]:
    if section == "ladder":
        return ladder_targets(run["ladder"]["speech"]["rows"])
    return continuation_targets(run["speech_continuation"]["rows"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--section", choices=("ladder", "continuation"), default="ladder")
    parser.add_argument("--name", default="speech", help="the run to read: speech (checkpoints/speech) or vm")
    parser.add_argument("--markdown", type=Path, default=None, help="write the mean run's tables here")
    args = parser.parse_args()
    runs = {0: next(r for r in json.loads(SEED_ZERO.read_text())["runs"] if r["name"] == args.name)}
    for path in args.runs:
        run = next(r for r in json.loads(path.read_text())["runs"] if r["name"] == args.name)
        runs[run["config"]["seed"]] = run
    seeds = sorted(runs)
    if args.markdown is not None:  # the section's tables of the five-seed mean run (audiolm_lib.eval.seeds)
        from audiolm_lib.eval.quality_tables import quality_markdown
        from audiolm_lib.eval.seeds import mean_over_seeds

        keep = {"ladder": "ladder", "continuation": "speech_continuation"}[args.section]
        parts = [{key: value for key, value in runs[seed].items() if key not in ("ladder", "speech_continuation")
                  or key == keep} for seed in seeds]
        mean = mean_over_seeds(parts, seeds)
        args.markdown.write_text(quality_markdown([mean], f"Held out, means over sampling seeds {seeds}") + "\n")
    tables = {seed: readings(runs[seed], args.section) for seed in seeds}
    print(f"{args.section}, seeds {seeds}")
    for name in tables[0]:
        print(name)
        for target in tables[0][name]:
            values = [tables[seed][name][target] for seed in seeds]
            print(f"  {target:22s} " + " ".join(f"{v:.3f}" for v in values)
                  + f"  mean {statistics.mean(values):.3f}, range {min(values):.3f}-{max(values):.3f}")


if __name__ == "__main__":
    main()
