"""Voice matching's change of rung c's DNSMOS (vm - pf10, same item and seed) against the item's gap: the real
continuation's mean nearest-prompt-frame cosine minus the generated one's (`match_distance.py`). Reads committed
files only; the held-out rows are a diagnosis of bench/quality.py's result, nothing is chosen on them.

    python3 gap_summary.py > gap_summary.txt
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent
I38 = HERE.parent / "validation_i38"
FAR = 0.04  # a gap above this: the generator's frames lie far from the prompt's


def rung_c(path: Path, key=lambda run: run["per_item"]) -> dict[str, float]:
    run = json.loads(path.read_text())["runs"]
    return {item["id"]: item["rungs"]["acoustic"]["dnsmos_ovrl"] for item in key(run[0])}


def main() -> None:
    rows = []
    for seed in (27, 28):
        gaps = json.loads((HERE / f"distance_s{seed}.json").read_text())["items"]
        base, matched = (rung_c(I38 / "rule38" / f"{name}_s{seed}.json") for name in ("pf10", "vm"))
        rows += [("recorded" if g["set"] == "recorded" else "synthetic", g["real"] - g["generated"],
                  matched[g["id"]] - base[g["id"]], g["id"]) for g in gaps]
    for kind in ("recorded", "synthetic"):
        gaps = [r[1] for r in rows if r[0] == kind]
        changes = [r[2] for r in rows if r[0] == kind]
        print(f"validation {kind}: {len(gaps)} item-seeds, gap mean {statistics.mean(gaps):.3f}, above {FAR}: "
              f"{sum(g > FAR for g in gaps) / len(gaps):.2f}; correlation of gap and DNSMOS change "
              f"{statistics.correlation(gaps, changes):+.2f}")
    for name, part in (("above", [r for r in rows if r[1] > FAR]), ("at or below", [r for r in rows if r[1] <= FAR])):
        print(f"validation, gap {name} {FAR}: {len(part)} item-seeds, rung c DNSMOS change "
              f"{statistics.mean(r[2] for r in part):+.3f} ({', '.join(sorted({r[3] for r in part if r[0] == 'recorded'})) or 'no recorded item'} recorded)")
    heldout = json.loads((HERE / "distance_heldout_s0.json").read_text())["items"]
    runs = json.loads((I38 / "heldout_vm.json").read_text())["runs"]
    base, matched = ({item["id"]: item["rungs"]["acoustic"]["dnsmos_ovrl"] for item in run["ladder"]["speech"]["items"]}
                     for run in runs)
    for g in heldout:
        print(f"held out {g['id']:28s} gap {g['real'] - g['generated']:.3f}  rung c DNSMOS change "
              f"{matched[g['id']] - base[g['id']]:+.3f}")


if __name__ == "__main__":
    main()
