"""Rule 44's held-out ladder check: the targets' readings (rung d) of vm and pghi on five sampling seeds.

Reads `bench/quality.py checkpoints/speech /work/cand/pghi --domain speech --sections ladder --seeds ...` JSONs (each
seed's run under ``per_seed``) and prints, per set and model, every target's reading per seed and the five-seed mean,
then rule 44's verdict: pghi keeps every target vm meets on the mean. vm's own seeds are checked against the committed
runs of ``../validation_i39/heldout_seeds/`` (and ``../validation_i38/heldout_vm.json`` for seed 0).

    python3 heldout44.py heldout/ladder_s0-2.json heldout/ladder_s3-4.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "validation_i39"))
from heldout_seeds import ladder_targets  # noqa: E402

# issue 20's targets on the held-out sets (the different-speaker baselines are the ladder's own)
TARGETS = {"librivox": {"speaker similarity": 0.636, "voiced share / real": 0.5, "DNSMOS / resynthesis": 0.8},
           "asterisk": {"speaker similarity": 0.560, "voiced share / real": 0.5, "DNSMOS / resynthesis": 0.8},
           "tts": {"speaker similarity": 0.701, "DNSMOS / resynthesis": 0.8}}
COMMITTED = {0: (HERE.parent / "validation_i38" / "heldout_vm.json", "vm")}
COMMITTED.update({s: (HERE.parent / "validation_i39" / "heldout_seeds" / f"ladder_vm_s{s}.json", "vm")
                  for s in range(1, 5)})


def readings(paths: list[Path]) -> dict[str, dict[int, dict]]:
    """``{model name: {seed: {set: {target: reading}}}}``."""
    out: dict[str, dict[int, dict]] = {}
    for path in paths:
        for seed, run in json.loads(path.read_text())["per_seed"].items():
            for model in run["runs"]:
                out.setdefault(model["name"], {})[int(seed)] = ladder_targets(model["ladder"]["speech"]["rows"])
    return out


def committed_vm(seed: int) -> dict:
    path, name = COMMITTED[seed]
    runs = json.loads(path.read_text())["runs"]
    return ladder_targets(next(r for r in runs if r["name"] == name)["ladder"]["speech"]["rows"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jsons", nargs="+", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    models = readings(args.jsons)
    vm, pghi = models["speech"], models["pghi"]
    seeds = sorted(vm)
    same = all(abs(vm[s][k][t] - committed_vm(s)[k][t]) < 1e-6 for s in seeds if s in COMMITTED
               for k in vm[s] for t in vm[s][k])
    print(f"seeds {seeds}; vm reproduces its committed runs: {same}")
    means: dict = {}
    for name, runs in (("vm", vm), ("pghi", pghi)):
        means[name] = {}
        for key in TARGETS:
            means[name][key] = {}
            for target in ("speaker similarity", "voiced share / real", "DNSMOS / resynthesis"):
                values = [runs[s][key][target] for s in seeds]
                means[name][key][target] = statistics.mean(values)
                print(f"{name:5s} {key:9s} {target:22s} " + " ".join(f"{v:.3f}" for v in values)
                      + f"  mean {statistics.mean(values):.3f}")
    verdict = []
    for key, targets in TARGETS.items():
        for target, bound in targets.items():
            base, new = means["vm"][key][target], means["pghi"][key][target]
            status = ("kept" if new >= bound else "LOST") if base >= bound else ("now met" if new >= bound else "missed")
            verdict.append({"set": key, "target": target, "bound": bound, "vm": base, "pghi": new, "status": status})
            print(f"{key:9s} {target:22s} bound {bound:.3f}: vm {base:.3f} -> pghi {new:.3f}  {status}")
    met = not any(row["status"] == "LOST" for row in verdict)
    print("rule 44's ladder guard", "holds" if met else "fails")
    if args.json:
        args.json.write_text(json.dumps({"seeds": seeds, "vm_reproduces": same, "means": means, "verdict": verdict,
                                         "holds": met}, indent=1))


if __name__ == "__main__":
    main()
