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
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aligned_map import ROOT, validation_items  # noqa: E402

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
    from audiolm_lib.eval.oracle_ladder import _speech_measures

    rate, hop = model.sample_rate, int(model.codec.hop_length)
    prompt, real = item["prompt"], item["real"]
    semantic, codes = model.tokenize(torch.cat([prompt, real]), rate)
    prompt_frames = min(codes.shape[-1] - 1, int(math.floor(len(prompt) / rate * model.acoustic_rate + 1e-6)))
    prompt_codes = codes[..., :prompt_frames]
    sampling = {stage: {key: getattr(getattr(model.config, stage), key) for key in ("temperature", "top_k", "top_p")}
                for stage in model.acoustic.sampling_stages}
    new_codes = model.acoustic.generate_acoustic(semantic, prompt_codes, codes.shape[-1] - prompt_frames,
                                                 sampling=sampling, generator=torch.Generator().manual_seed(seed))
    levels = new_codes.shape[1]
    variants = {"shipped": model.match_voice(new_codes, prompt_codes, semantic=semantic)}
    for name, fractions in SHIFTS.items():
        pool = shifted_pool(model, prompt, prompt_codes, fractions)
        variants[name] = model.match_voice(new_codes, pool, semantic=semantic)
    start = prompt_frames * hop
    waves = {name: model.decode(torch.cat([prompt_codes[:, :levels], new], dim=-1), prompt[None, None])[0, 0, start:]
             for name, new in variants.items()}
    length = min(len(real), *(len(wave) for wave in waves.values()))
    waves = {name: wave[:length].float().cpu() for name, wave in waves.items()}
    waves["real"] = real[:length]
    measures = _speech_measures(waves, prompt, rate, item.get("other"))
    return {"id": item["id"], "set": item["set"], "different_speaker_baseline": measures["different_speaker_baseline"],
            **{name: {key: measures["rungs"][name][key] for key in ("speaker_similarity", "voiced_share", "dnsmos_ovrl")}
               for name in waves}}


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
