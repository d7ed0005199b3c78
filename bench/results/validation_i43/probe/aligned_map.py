"""Probe (issue 20, twenty-seventh pass): a per-prompt linear map of the codec latents, fitted on aligned pairs.

Voice matching (kNN-VC on the codec latents) matches each generated frame to the prompt's frames by similarity
alone: it has no pairs of "this frame in the generator's voice" and "the same frame in the prompt's voice". The
prompt can give such pairs. Its first half is handed to the generator as the acoustic prompt and the generator
re-renders the second half from the prompt's own semantic ids: frame for frame the same content, in the voice the
generator makes. A linear map fitted from those latents to the prompt's true latents (ridge, shrunk toward the
identity, since ~75 frames a draw are few for 128 dimensions) then moves each continuation frame toward the prompt's
voice before voice matching, as shipped, chooses its prompt frames.

Rung c only (the generator given the true semantic ids), validation items, one seed per process:

    PYTHONPATH=. python3 bench/results/validation_i43/probe/aligned_map.py --seed 44 --out map_s44.jsonl \
        --manifest /work/data/recorded/manifest.jsonl --manifest /work/gan_data/speech/manifest.jsonl

Writes one JSON line per item: speaker similarity / voiced share / DNSMOS OVRL of each variant. ``summarise``
pairs each variant with ``shipped`` per item. Not a library feature; nothing ships from it unless it clears the
shipped decoding by more than its noise on both validation sets.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DRAWS = 2  # re-renderings of the prompt's second half per item (different seeds): ~2 x 75 aligned pairs
SHRINKS = (1.0, 0.3)  # ridge strength toward the identity, as a multiple of the mean variance per dimension


def fit_map(generated: torch.Tensor, true: torch.Tensor, shrink: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``generated`` / ``true`` ``Tensor[N, D]`` aligned frames -> ``(W [D, D], b [D])`` with ``y ~ x W + b``:
    ``W = (Xc'Xc + l I)^-1 (Xc'Yc + l I)`` (ridge toward the identity), ``b = mean_y - mean_x W``."""
    mean_x, mean_y = generated.mean(0), true.mean(0)
    xc, yc = generated - mean_x, true - mean_y
    dim = xc.shape[1]
    strength = shrink * float((xc * xc).sum()) / dim  # comparable to the data's own scale
    eye = torch.eye(dim, dtype=xc.dtype)
    weight = torch.linalg.solve(xc.T @ xc + strength * eye, xc.T @ yc + strength * eye)
    return weight, mean_y - mean_x @ weight


def measured_variants(model, item: dict, tokens: dict, variants: dict) -> dict:
    """Each variant's new codes ``{name: LongTensor[1, L, F]}`` decoded after the prompt's codes and measured
    against the prompt, with the real continuation: ``{"id", "set", "different_speaker_baseline", name: {speaker
    similarity, voiced share, DNSMOS OVRL}}``."""
    from audiolm_lib.eval.oracle_ladder import _speech_measures

    prompt, real, prompt_codes = item["prompt"], item["real"], tokens["prompt_codes"]
    start = tokens["prompt_frames"] * int(model.codec.hop_length)
    waves = {name: model.decode(torch.cat([prompt_codes[:, :new.shape[1]], new], dim=-1),
                                prompt[None, None])[0, 0, start:] for name, new in variants.items()}
    length = min(len(real), *(len(wave) for wave in waves.values()))
    waves = {name: wave[:length].float().cpu() for name, wave in waves.items()}
    waves["real"] = real[:length]
    measures = _speech_measures(waves, prompt, model.sample_rate, item.get("other"))
    return {"id": item["id"], "set": item["set"], "different_speaker_baseline": measures["different_speaker_baseline"],
            **{name: {key: measures["rungs"][name][key] for key in ("speaker_similarity", "voiced_share", "dnsmos_ovrl")}
               for name in waves}}


def item_variants(model, item: dict, seed: int) -> dict:
    from audiolm_lib.eval.oracle_ladder import rung_c_codes
    from audiolm_lib.voice_match import code_latents

    tokens = rung_c_codes(model, item["prompt"], item["real"], seed)
    semantic, prompt_codes, prompt_frames = tokens["semantic"], tokens["prompt_codes"], tokens["prompt_frames"]
    ratio = model.semantic_rate / model.acoustic_rate
    half = prompt_frames // 2
    pairs_x, pairs_y = [], []
    for draw in range(DRAWS):  # the prompt's second half in the generator's voice, from its first half
        prompt_tokens = int(math.floor(prompt_frames * ratio + 1e-6))
        rerender = model.acoustic.generate_acoustic(semantic[:, :prompt_tokens], prompt_codes[..., :half],
                                                    prompt_frames - half, sampling=tokens["sampling"],
                                                    generator=torch.Generator().manual_seed(seed * 7919 + 101 + draw))
        levels = rerender.shape[1]
        pairs_x.append(code_latents(model.codec, rerender)[0].T)
        pairs_y.append(code_latents(model.codec, prompt_codes[:, :levels, half:])[0].T)
    x, y = torch.cat(pairs_x), torch.cat(pairs_y)
    new_codes = tokens["new_codes"]
    latents = code_latents(model.codec, new_codes)[0].T  # [F, D]
    variants = {"shipped": model.match_voice(new_codes, prompt_codes, semantic=semantic),
                "unmatched": new_codes}
    for shrink in SHRINKS:
        weight, bias = fit_map(x, y, shrink)
        mapped = model.codec.quantizer.encode((latents @ weight + bias).T[None], new_codes.shape[1])
        variants[f"map{shrink:g}"] = model.match_voice(mapped, prompt_codes, semantic=semantic)
        variants[f"map{shrink:g}_unmatched"] = mapped
    weight, bias = fit_map(x, y, SHRINKS[0])
    fit_error = float(((x - y) ** 2).mean()), float(((x @ weight + bias - y) ** 2).mean())
    return {"fit_mse_before_after": fit_error, **measured_variants(model, item, tokens, variants)}


def validation_items(manifests: list[Path], continuation_seconds: float) -> list[dict]:
    """The 32 items of ``bench/validation_ladder.py`` (3 s prompts, two per speaker), each with the different
    speaker's real continuation as ``other``, picked as the oracle ladder picks it."""
    from audiolm_lib.eval.continuation_quality import speech_items
    from validation_ladder import validation_clips

    clips = [clip for path in manifests for clip in validation_clips(path, "valid", 4)]
    items = speech_items(clips, 3.0, continuation_seconds, per_speaker=2)
    for number, item in enumerate(items):
        others = items[number + 1:] + items[:number]
        other = next((o for o in others if o.get("speaker") != item.get("speaker")), None)
        item["other"] = None if other is None else other["real"]
    return items


def run(args) -> None:
    from tqdm import tqdm

    from audiolm_lib.eval.seeds import item_seed
    from audiolm_lib.pipeline import AudioLM

    torch.set_num_threads(1)
    items = validation_items(args.manifest, args.continuation_seconds)
    model = AudioLM.from_pretrained(args.model).eval()
    done = set()
    if args.out.exists():  # resume
        done = {json.loads(line)["id"] for line in args.out.read_text().splitlines() if line.strip()}
    with torch.inference_mode(), args.out.open("a") as out:
        for index, item in enumerate(tqdm(items, desc="aligned map")):
            if item["id"] in done:
                continue
            out.write(json.dumps(item_variants(model, item, item_seed(args.seed, index))) + "\n")
            out.flush()


def summarise(paths: list[Path]) -> None:
    rows = [json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()]
    names = [key for key in rows[0] if isinstance(rows[0][key], dict)]
    for group in ("recorded", "synthetic"):
        chosen = [r for r in rows if (r["set"] == "recorded") == (group == "recorded")]
        print(f"{group} ({len(chosen)} items), mean and paired difference to shipped +- s.e.:")
        for name in names:
            parts = []
            for key in ("speaker_similarity", "voiced_share", "dnsmos_ovrl"):
                pairs = [(r[name][key], r["shipped"][key]) for r in chosen
                         if r[name][key] is not None and r["shipped"][key] is not None]
                values = [a for a, _ in pairs]
                diffs = [a - b for a, b in pairs]
                se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
                parts.append(f"{key[:7]} {statistics.mean(values):.3f} ({statistics.mean(diffs):+.3f} +- {se:.3f})")
            print(f"  {name:18s} " + " | ".join(parts))
        baseline = [r["different_speaker_baseline"] for r in chosen if r["different_speaker_baseline"] is not None]
        if baseline:
            print(f"  different speaker  {statistics.mean(baseline):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run")
    go.add_argument("--model", type=Path, default=ROOT / "checkpoints" / "speech")
    go.add_argument("--manifest", type=Path, action="append", required=True)
    go.add_argument("--continuation-seconds", type=float, default=5.0)
    go.add_argument("--seed", type=int, required=True)
    go.add_argument("--out", type=Path, required=True)
    summary = sub.add_parser("summarise")
    summary.add_argument("paths", type=Path, nargs="+")
    args = parser.parse_args()
    run(args) if args.command == "run" else summarise(args.paths)


if __name__ == "__main__":
    main()
