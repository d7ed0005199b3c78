"""Is voice matching's held-out DNSMOS loss larger than its validation items' spread? (issue 20, twenty-third pass)

Reads committed runs only. Validation: per item, the pipeline rung's DNSMOS OVRL with a setting minus pf10's on the
same item and seed (`bench/validation_ladder.py` JSONs). Held out: the same difference on the items of a
`bench/quality.py` run of both (its ladder's pipeline rung). Prints, per validation set, the mean, spread and
quantiles of the differences, then each held-out item's difference and the share of validation items of its kind
(recorded / synthetic) at or below it, and the held-out recorded mean's z-score against the validation mean.

    python3 paired_differences.py --setting vm --heldout ../validation_i38/heldout_vm.json
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent
I38 = HERE.parent / "validation_i38"
# seeds on which pf10 and the setting ran side by side (rules 33-41)
RUNS = {"vm": [(I38 / f"pf10_s{s}.json", I38 / f"vm_s{s}.json") for s in (12, 13, 14, 15)]
        + [(I38 / "rule38" / f"pf10_s{s}.json", I38 / "rule38" / f"vm_s{s}.json") for s in (21, 22, 27, 28)],
        "vmpm": [(I38 / f"pf10_s{s}.json", I38 / f"vmpm_s{s}.json") for s in (12, 13)]
        + [(I38 / "rule38" / f"pf10_s{s}.json", I38 / "rule38" / f"vmpm_s{s}.json") for s in range(21, 27)]}


def ladder_items(path: Path, heldout: bool = False) -> list[dict[str, dict]]:
    """Per run of a JSON, ``{item id: item}``: a `validation_ladder.py` run's ``per_item``, or (``heldout``) a
    `bench/quality.py` run's ladder items."""
    runs = json.loads(path.read_text())["runs"]
    return [{item["id"]: item for item in (run["ladder"]["speech"]["items"] if heldout else run["per_item"])}
            for run in runs]


def pipeline_dnsmos(path: Path) -> dict[str, tuple[str, float]]:
    """``{item id: (kind, pipeline DNSMOS OVRL)}`` of a validation run; kind: "recorded" or "synthetic"."""
    return {key: ("recorded" if item["set"] == "recorded" else "synthetic", item["rungs"]["pipeline"]["dnsmos_ovrl"])
            for key, item in ladder_items(path)[0].items()}


def validation_differences(setting: str) -> tuple[dict[str, list[float]], dict[str, dict[str, list[float]]]]:
    """The differences per kind, and per kind and voice (an item id up to its "#")."""
    differences: dict[str, list[float]] = {"recorded": [], "synthetic": []}
    voices: dict[str, dict[str, list[float]]] = {"recorded": {}, "synthetic": {}}
    for base_path, setting_path in RUNS[setting]:
        base, other = pipeline_dnsmos(base_path), pipeline_dnsmos(setting_path)
        for item, (kind, value) in base.items():
            if item in other and value is not None and other[item][1] is not None:
                differences[kind].append(other[item][1] - value)
                voices[kind].setdefault(item.split("#")[0], []).append(other[item][1] - value)
    return differences, voices


def heldout_differences(path: Path) -> list[tuple[str, str, float]]:
    """``(item, kind, setting - pf10)`` for the ladder items of a two-model ``bench/quality.py`` run."""
    base, other = ladder_items(path, heldout=True)
    return [(key, "synthetic" if item["set"] == "tts" else "recorded",
             other[key]["rungs"]["pipeline"]["dnsmos_ovrl"] - item["rungs"]["pipeline"]["dnsmos_ovrl"])
            for key, item in base.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=sorted(RUNS), default="vm")
    parser.add_argument("--heldout", type=Path, required=True, help="a bench/quality.py JSON of pf10 and the setting")
    args = parser.parse_args()
    differences, voices = validation_differences(args.setting)
    summary = {}
    for kind, values in differences.items():
        ordered = sorted(values)
        quantiles = {q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) for q in (0.05, 0.25, 0.5, 0.75, 0.95)}
        summary[kind] = {"items": len(values), "mean": statistics.mean(values), "sd": statistics.stdev(values)}
        print(f"validation {kind}: {len(values)} item-seeds, mean {summary[kind]['mean']:+.3f}, "
              f"sd {summary[kind]['sd']:.3f}, quantiles {quantiles}")
    for kind, by_voice in voices.items():
        means = sorted((statistics.mean(values), voice) for voice, values in by_voice.items())
        print(f"validation {kind} voices' mean differences: {len(means)} voices, lowest {means[0][0]:+.3f} "
              f"({means[0][1]}), highest {means[-1][0]:+.3f} ({means[-1][1]})")
    heldout = heldout_differences(args.heldout)
    held_voices: dict[tuple[str, str], list[float]] = {}
    for item, kind, difference in heldout:
        held_voices.setdefault((item.split("#")[0], kind), []).append(difference)
    for (voice, kind), values in held_voices.items():
        print(f"held-out voice {voice}: mean {statistics.mean(values):+.3f} over {len(values)} items")
    for item, kind, difference in heldout:
        share = sum(value <= difference for value in differences[kind]) / len(differences[kind])
        print(f"held out {item:28s} {kind:9s} {difference:+.3f}  (validation {kind} items at or below: {share:.2f})")
    for kind in ("recorded", "synthetic"):
        values = [difference for _, k, difference in heldout if k == kind]
        if values:
            mean = statistics.mean(values)
            z = (mean - summary[kind]["mean"]) / (summary[kind]["sd"] / math.sqrt(len(values)))
            print(f"held-out {kind} mean {mean:+.3f} over {len(values)} items: z = {z:.1f} against the validation mean"
                  " (items taken as independent; they come from few speakers, so this overstates the evidence)")


if __name__ == "__main__":
    main()
