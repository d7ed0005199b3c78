"""DNSMOS in the form of issue 20's target (the continuation's DNSMOS OVRL over the codec resynthesis' of the real
continuation), set by set and voice by voice, beside speaker similarity and voiced share, for validation-ladder runs.

    python against_resynthesis.py [--dir FOLDER] [--seeds 0,1] NAME [NAME ...]

reads ``FOLDER/NAME_s{seed}.json`` (default: this folder) and prints, per NAME, means over the seeds: per set (recorded,
speech = the TTS voices) the pipeline's and rung c's speaker similarity, the pipeline's voiced share over the real
continuation's, and the set's mean pipeline DNSMOS over its mean resynthesis DNSMOS; then per voice (means over its
items and the seeds) the pipeline's DNSMOS over the resynthesis', with the number of voices below 0.8x and 0.7x and
the worst, and the mean ratio of the three continuous 16 kHz recorded voices; per set also the mean of its voices'
ratios each capped at 1.0x (``capped_voice_mean``, rule 40). ``--json OUT`` writes the same numbers.
"""
import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

SETS = ("recorded", "speech")  # the validation ladder's sets, in this order; others (a probe's) follow by name
# The validation set's only continuous, 16 kHz recorded reading (Asterisk's G.722 core sounds): the kind of recording
# the held-out LibriVox reader is (Allison's held-out prompts are 8 kHz, as the validation set's Asterisk prompt voices).
# Rule 32's fifth criterion is their mean per-voice DNSMOS ratio.
CONTINUOUS_RECORDED = ("asterisk:june", "asterisk:carlo", "asterisk:ivrvoice-ru")


def per_item(path: Path) -> list[dict]:
    return json.loads(path.read_text())["runs"][0]["per_item"]


def summarise(folder: Path, name: str, seeds: list[int]) -> dict:
    sets = defaultdict(lambda: defaultdict(list))
    voices = defaultdict(lambda: defaultdict(list))
    set_of = {}
    for seed in seeds:
        for item in per_item(folder / f"{name}_s{seed}.json"):
            rungs, row = item["rungs"], sets[item["set"]]
            row["sim_pipeline"].append(rungs["pipeline"]["speaker_similarity"])
            row["sim_acoustic"].append(rungs["acoustic"]["speaker_similarity"])
            for key in ("pipeline", "real", "resynthesis"):
                row[f"voiced_{key}"].append(rungs[key]["voiced_share"])
                row[f"dnsmos_{key}"].append(rungs[key]["dnsmos_ovrl"])
            voice = voices[item["id"].split("#")[0]]
            set_of[item["id"].split("#")[0]] = item["set"]
            voice["pipeline"].append(rungs["pipeline"]["dnsmos_ovrl"])
            voice["resynthesis"].append(rungs["resynthesis"]["dnsmos_ovrl"])
    out = {"sets": {}, "voices": {}}
    for key, row in sorted(sets.items(), key=lambda kv: (SETS.index(kv[0]) if kv[0] in SETS else len(SETS), kv[0])):
        mean = {k: float(np.mean(v)) for k, v in row.items()}
        out["sets"][key] = {"speaker_similarity_pipeline": mean["sim_pipeline"],
                            "speaker_similarity_acoustic": mean["sim_acoustic"],
                            "voiced_over_real": mean["voiced_pipeline"] / mean["voiced_real"],
                            "voiced_pipeline": mean["voiced_pipeline"],
                            "dnsmos_over_resynthesis": mean["dnsmos_pipeline"] / mean["dnsmos_resynthesis"]}
    ratios = {v: float(np.mean(d["pipeline"]) / np.mean(d["resynthesis"])) for v, d in voices.items()}
    out["voices"] = ratios
    for key in out["sets"]:  # rule 40: a voice's continuation sounding cleaner than its own resynthesis counts as 1.0x
        capped = [min(ratio, 1.0) for who, ratio in ratios.items() if set_of[who] == key]
        out["sets"][key]["capped_voice_mean"] = float(np.mean(capped))
    # a speed-perturbed copy (``asterisk:june@x0.55``) is its original's kind of voice
    continuous = [ratio for who, ratio in ratios.items() if who.split("@")[0] in CONTINUOUS_RECORDED]
    out["continuous_recorded"] = float(np.mean(continuous)) if continuous else float("nan")
    worst = min(ratios, key=ratios.get)
    out["below_0.8"] = sum(r < 0.8 for r in ratios.values())
    out["below_0.7"] = sum(r < 0.7 for r in ratios.values())
    out["worst"] = [worst, ratios[worst]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {name: summarise(args.dir, name, seeds) for name in args.names}
    for name, res in results.items():
        print(f"{name} (seeds {args.seeds}): {len(res['voices'])} voices, below 0.8x the resynthesis' DNSMOS: "
              f"{res['below_0.8']}, below 0.7x: {res['below_0.7']}, worst {res['worst'][0]} {res['worst'][1]:.2f}x; "
              f"continuous recorded voices {res['continuous_recorded']:.3f}x")
        for key, row in res["sets"].items():
            print(f"  {key:9s} speaker similarity rung c {row['speaker_similarity_acoustic']:.3f} pipeline "
                  f"{row['speaker_similarity_pipeline']:.3f}; voiced {row['voiced_pipeline']:.2f} "
                  f"({row['voiced_over_real']:.2f}x the real); DNSMOS {row['dnsmos_over_resynthesis']:.3f}x the "
                  f"resynthesis' (voices capped at 1.0x: {row['capped_voice_mean']:.3f})")
    if len(results) > 1:
        voices = sorted(next(iter(results.values()))["voices"])
        print(f"{'voice':24s}" + "".join(f"{name:>12s}" for name in results))
        for voice in sorted(voices, key=lambda v: results[args.names[-1]]["voices"].get(v, 0)):
            print(f"{voice:24s}" + "".join(f"{res['voices'].get(voice, float('nan')):12.2f}" for res in results.values()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
