"""Probe (issue 20, twenty-seventh pass): a larger matching set for voice matching, from the prompt itself.

kNN-VC's voice improves with the size of its matching set (Baas et al. 2023: minutes of the target speaker against
seconds), and a 3 s prompt gives the shipped voice matching ~150 codec frames. The same prompt encoded again from
a start shifted by a fraction of the codec's hop gives other frames of the same voice (each a window of the same
speech at another phase), so the set grows 2x or 4x with no voice but the prompt's. Rung c only (the generator
given the true semantic ids), the same items and seeds as ``aligned_map.py``; ``shipped`` reproduces the ladder's
rung c.

    PYTHONPATH=. python3 bench/results/validation_i43/probe/pool_shift.py --seed 44 --out pool_s44.jsonl \
        --manifest /work/data/recorded/manifest.jsonl --manifest /work/gan_data/speech/manifest.jsonl
    python3 bench/results/validation_i43/probe/aligned_map.py summarise pool_s44.jsonl pool_s45.jsonl
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aligned_map import ROOT, measured_variants, validation_items  # noqa: E402

SHIFTS = {"pool2": (0.0, 0.5), "pool4": (0.0, 0.25, 0.5, 0.75)}  # starts, as fractions of the hop


def shifted_pool(model, prompt: torch.Tensor, prompt_codes: torch.Tensor, fractions) -> torch.Tensor:
    """``LongTensor[1, Q, F0 * len(fractions)]``-ish: the prompt's codes, then those of the prompt encoded from each
    later start (its whole frames only)."""
    hop = int(model.codec.hop_length)
    parts = [prompt_codes]
    for fraction in fractions[1:]:
        start = int(round(fraction * hop))
        wave = prompt[start:]
        frames = len(wave) // hop
        parts.append(model.codec.encode(wave[: frames * hop][None, None])[..., :frames])
    return torch.cat(parts, dim=-1)


def item_variants(model, item: dict, seed: int) -> dict:
    from audiolm_lib.eval.oracle_ladder import rung_c_codes

    tokens = rung_c_codes(model, item["prompt"], item["real"], seed)
    prompt_codes, semantic, new_codes = tokens["prompt_codes"], tokens["semantic"], tokens["new_codes"]
    variants = {"shipped": model.match_voice(new_codes, prompt_codes, semantic=semantic)}
    for name, fractions in SHIFTS.items():
        pool = shifted_pool(model, item["prompt"], prompt_codes, fractions)
        variants[name] = model.match_voice(new_codes, pool, semantic=semantic)
    return measured_variants(model, item, tokens, variants)


def main() -> None:
    from tqdm import tqdm

    from audiolm_lib.eval.seeds import item_seed
    from audiolm_lib.pipeline import AudioLM

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "checkpoints" / "speech")
    parser.add_argument("--manifest", type=Path, action="append", required=True)
    parser.add_argument("--continuation-seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    items = validation_items(args.manifest, args.continuation_seconds)
    model = AudioLM.from_pretrained(args.model).eval()
    with torch.inference_mode(), args.out.open("w") as out:
        for index, item in enumerate(tqdm(items, desc="matching set")):
            out.write(json.dumps(item_variants(model, item, item_seed(args.seed, index))) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
