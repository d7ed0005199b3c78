"""The shipped speech model held out on five sampling seeds, after this pass's bucket order, against the same model
with the exact heap order (``../validation_i40/heldout/``, run "pghi"): issue 20's targets at rung d.

    python3 heldout_shipped.py --json heldout/heldout_shipped.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "validation_i40"))
from heldout44 import TARGETS, readings  # noqa: E402

BEFORE = [HERE.parent / "validation_i40" / "heldout" / f"ladder_s{s}.json" for s in ("0-2", "3-4")]
AFTER = [HERE / "heldout" / f"ladder_s{s}.json" for s in ("0-2", "3-4")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs = {"heap": readings(BEFORE)["pghi"], "bucket": readings(AFTER)["speech"]}
    means: dict = {}
    for name, by_seed in runs.items():
        seeds = sorted(by_seed)
        means[name] = {key: {target: statistics.mean(by_seed[s][key][target] for s in seeds) for target in TARGETS[key]}
                       for key in TARGETS}
    rows = []
    for key, targets in TARGETS.items():
        for target, bound in targets.items():
            before, after = means["heap"][key][target], means["bucket"][key][target]
            rows.append({"set": key, "target": target, "bound": bound, "heap": before, "bucket": after,
                         "met": after >= bound})
            print(f"{key:9s} {target:22s} bound {bound:.3f}: heap {before:.3f} -> bucket {after:.3f}  "
                  f"{'met' if after >= bound else 'missed by %.3f' % (bound - after)}")
    if args.json:
        args.json.write_text(json.dumps({"means": means, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
