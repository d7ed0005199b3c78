"""Per validation voice: a setting's DNSMOS OVRL over pf10's and its speaker-similarity gain (means of seeds 0 and 1
and of the voice's items), from the validation ladder JSONs beside this script (``NAME_s0.json``, ``NAME_s1.json``;
pf10's from ../validation_i32/). ``python per_voice.py [--dir FOLDER] NAME [RUNG]`` (rung: acoustic or pipeline,
default both; ``--dir``: NAME's JSONs from FOLDER instead of this one's).
A held-out set is one voice (LibriVox: one reader; Asterisk: Allison), so a setting must not lose the DNSMOS target on
any voice, not only on the mean over voices."""
import json
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def per_item(path: Path) -> dict:
    return {item["id"]: item for item in json.loads(path.read_text())["runs"][0]["per_item"]}


def main() -> None:
    args, folder = sys.argv[1:], HERE
    if args[:1] == ["--dir"]:
        folder, args = Path(args[1]), args[2:]
    name = args[0]
    for rung in args[1:] or ["acoustic", "pipeline"]:
        ratios, gains = defaultdict(list), defaultdict(list)
        for seed in (0, 1):
            base = per_item(HERE.parent / "validation_i32" / f"pf10_s{seed}.json")
            for key, item in per_item(folder / f"{name}_s{seed}.json").items():
                before, after = base[key]["rungs"][rung], item["rungs"][rung]
                voice = key.split("#")[0]
                ratios[voice].append(after["dnsmos_ovrl"] / before["dnsmos_ovrl"])
                gains[voice].append(after["speaker_similarity"] - before["speaker_similarity"])
        means = {voice: sum(values) / len(values) for voice, values in ratios.items()}
        worst = sorted(means, key=means.get)
        print(f"{name} {rung}: {len(means)} voices; DNSMOS over pf10's per voice: median "
              f"{sorted(means.values())[len(means) // 2]:.3f}, below 0.9x: {sum(v < 0.9 for v in means.values())}, "
              f"below 0.95x: {sum(v < 0.95 for v in means.values())}")
        for voice in worst[:5]:
            print(f"  {voice:24s} x{means[voice]:.3f}  speaker similarity "
                  f"{sum(gains[voice]) / len(gains[voice]):+.3f}")


if __name__ == "__main__":
    main()
