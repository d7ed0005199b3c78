"""Voice matching's DNSMOS change (vm - pf10, same item and seed) against the item's gap: the real continuation's
mean nearest-prompt-frame cosine minus the generated one's (`match_distance.py`), at rung c (true semantic ids) and
rung d (the pipeline). Reads committed files only; the held-out rows are a diagnosis of bench/quality.py's result,
nothing is chosen on them.

    python3 gap_summary.py > gap_summary.txt
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from paired_differences import ladder_items  # this folder's reader of the ladder JSONs

HERE = Path(__file__).resolve().parent
I38 = HERE.parent / "validation_i38"
RUNGS = {"c": ("generated", "acoustic"), "d": ("pipeline", "pipeline")}  # rung: (distance key, ladder rung)
BINS = (0.0, 0.02, 0.04, 0.06, 1.0)


def rows_of(name: str, distances: Path, base: dict, matched: dict) -> list[dict]:
    rows = []
    for item in json.loads(distances.read_text())["items"]:
        key = item["id"]
        row = {"set": name, "id": key, "recorded": item["set"] in ("recorded", "librivox", "asterisk") or "@" in key}
        for rung, (distance, ladder) in RUNGS.items():
            row[f"gap_{rung}"] = item["real"] - item[distance]
            row[f"change_{rung}"] = (matched[key]["rungs"][ladder]["dnsmos_ovrl"]
                                     - base[key]["rungs"][ladder]["dnsmos_ovrl"])
        rows.append(row)
    return rows


def main() -> None:
    rows = []
    for seed in (27, 28):
        base, matched = (ladder_items(I38 / "rule38" / f"{name}_s{seed}.json")[0] for name in ("pf10", "vm"))
        rows += rows_of(f"validation s{seed}", HERE / f"distance_s{seed}.json", base, matched)
    base, matched = (ladder_items(I38 / "low_voices" / f"{name}_s29.json")[0] for name in ("pf10", "vm"))
    rows += rows_of("low voices s29", HERE / "distance_low_s29.json", base, matched)
    base, matched = ladder_items(I38 / "heldout_vm.json", heldout=True)
    rows += rows_of("held out s0", HERE / "distance_heldout_s0.json", base, matched)

    print("set / kind: items, mean gap at rung c and d, mean DNSMOS change under vm at rung c and d")
    for name in dict.fromkeys(row["set"] for row in rows):
        for recorded in (True, False):
            part = [row for row in rows if row["set"] == name and row["recorded"] == recorded]
            if part:
                means = [statistics.mean(row[field] for row in part)
                         for field in ("gap_c", "gap_d", "change_c", "change_d")]
                print(f"  {name:15s} {'recorded' if recorded else 'synthetic':9s} {len(part):2d} items: gap "
                      f"{means[0]:.3f} / {means[1]:.3f}, change {means[2]:+.3f} / {means[3]:+.3f}")
    validation = [row for row in rows if row["set"] != "held out s0"]
    for rung in RUNGS:
        print(f"rung {rung}, validation and low voices ({len(validation)} items): correlation of gap and change "
              f"{statistics.correlation([r[f'gap_{rung}'] for r in validation], [r[f'change_{rung}'] for r in validation]):+.2f}")
        for low, high in zip(BINS, BINS[1:]):
            for label, group in (("validation", validation), ("held out", [r for r in rows if r["set"] == "held out s0"])):
                part = [r[f"change_{rung}"] for r in group if low <= r[f"gap_{rung}"] < high]
                if part:
                    print(f"  gap {low:.2f}-{high:.2f} {label:10s} {len(part):2d} items: change {statistics.mean(part):+.3f}")


if __name__ == "__main__":
    main()
