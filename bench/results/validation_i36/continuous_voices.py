"""DNSMOS OVRL / SIG / BAK, speaker similarity and voiced share of the three continuous 16 kHz recorded validation
voices (rule 32's criterion 5), on rung c and through the pipeline: where a setting's loss of their sound lies.

    python continuous_voices.py DIR/NAME:SEEDS [DIR/NAME:SEEDS ...]

e.g. ``. /pf10:10,11`` reads ``./pf10_s10.json`` and ``./pf10_s11.json``; means over each voice's items and the seeds,
then over the three voices.
"""
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation_i35"))
from against_resynthesis import CONTINUOUS_RECORDED  # noqa: E402

MEASURES = ("dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "speaker_similarity", "voiced_share")


def voice_means(stem: Path, seeds: list[int]) -> dict[tuple[str, str], float]:
    values = defaultdict(lambda: defaultdict(list))
    for seed in seeds:
        for item in json.loads(Path(f"{stem}_s{seed}.json").read_text())["runs"][0]["per_item"]:
            voice = item["id"].split("#")[0]
            if voice in CONTINUOUS_RECORDED:
                for rung in ("acoustic", "pipeline"):
                    for key in MEASURES:
                        values[(rung, key)][voice].append(item["rungs"][rung][key])
    return {k: float(np.mean([np.mean(v[voice]) for voice in CONTINUOUS_RECORDED])) for k, v in values.items()}


def main() -> None:
    print(f"{'run':28s} rung c: OVRL SIG BAK speaker voiced | pipeline: the same")
    for spec in sys.argv[1:]:
        stem, seeds = spec.rsplit(":", 1)
        means = voice_means(Path(stem), [int(s) for s in seeds.split(",")])
        cells = [f"{means[(rung, key)]:.3f}" for rung in ("acoustic", "pipeline") for key in MEASURES]
        print(f"{spec:28s} {' '.join(cells[:5])} | {' '.join(cells[5:])}")


if __name__ == "__main__":
    main()
