"""How far the generator's frames lie from the prompt's, item by item (issue 20, twenty-third pass; exploratory).

For each validation item of `bench/validation_ladder.py` (same items, same seeds: item i with seed + i), the
oracle ladder's rung c continuation is made again (the model's generator, true semantic ids, no voice matching)
and each new frame's codec latent compared with the prompt's frames: the mean over new frames of the cosine to the
nearest prompt frame, for the generated frames, for rung d's (the pipeline's, with its own semantic ids) and, as the
same speaker's own reference, for the real continuation's frames. Voice matching replaces each frame with (the mean of) its nearest prompt frames, so a frame
far from all of them is changed most.

    python3 match_distance.py checkpoints/speech --seed 27 --json distance_s27.json
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def nearest_cosines(codec, new: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
    """``Tensor[F]``: each new frame's cosine to its nearest prompt frame (codes ``[1, L, F]`` / ``[1, L, F0]``)."""
    from audiolm_lib.voice_match import code_latents

    query = F.normalize(code_latents(codec, new)[0], dim=0)
    keys = F.normalize(code_latents(codec, prompt[:, : new.shape[1]])[0], dim=0)
    return (query.T @ keys).max(dim=1).values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--manifest", type=Path, action="append",
                        default=None, help="default: the recorded and synthetic validation manifests")
    parser.add_argument("--heldout", action="store_true",
                        help="the quality benchmark's ladder items instead (a diagnosis of its result: choose nothing on it)")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from validation_ladder import validation_clips
    from audiolm_lib.eval.continuation_quality import speech_items
    from audiolm_lib.pipeline import AudioLM

    if args.heldout:  # bench/quality.py's ladder items (seed 0 there)
        from audiolm_lib.datasets.heldout import build_heldout
        from audiolm_lib.eval.suite import SuiteConfig, _clips, continuation_items

        config = SuiteConfig()
        items = continuation_items(_clips(build_heldout(progress=False), ("speech",)), ("speech",), config,
                                   per_speaker=config.ladder_items_per_speaker)["speech"]
    else:
        manifests = args.manifest or [Path("/work/data/recorded/manifest.jsonl"),
                                      Path("/work/gan_data/speech/manifest.jsonl")]
        clips = [clip for path in manifests for clip in validation_clips(path, "valid", 4)]
        items = speech_items(clips, 3.0, 5.0, per_speaker=2)
    model = AudioLM.from_pretrained(args.model).eval()
    sampling = {stage: {key: getattr(getattr(model.config, stage), key) for key in ("temperature", "top_k", "top_p")}
                for stage in model.acoustic.sampling_stages}
    rows = []
    with torch.inference_mode():
        for number, item in enumerate(items):
            prompt, real, rate = item["prompt"], item["real"], model.sample_rate
            semantic, codes = model.tokenize(torch.cat([prompt, real]), rate)
            known = min(codes.shape[-1] - 1, int(math.floor(len(prompt) / rate * model.acoustic_rate + 1e-6)))
            new = model.acoustic.generate_acoustic(semantic, codes[..., :known], codes.shape[-1] - known,
                                                   sampling=sampling,
                                                   generator=torch.Generator().manual_seed(args.seed + number))
            generated = nearest_cosines(model.codec, new, codes[..., :known])
            reference = nearest_cosines(model.codec, codes[:, : new.shape[1], known:], codes[..., :known])
            # rung d: the whole pipeline (its own semantic ids), as the ladder runs it
            _, tokens = model.continue_audio(prompt, seconds=len(real) / rate, sample_rate=rate, return_tokens=True,
                                             generator=torch.Generator().manual_seed(args.seed + number))
            cut = tokens["prompt_frames"]
            pipeline = nearest_cosines(model.codec, tokens["codes"][..., cut:], tokens["codes"][..., :cut])
            rows.append({"id": item["id"], "set": item["set"], "generated": float(generated.mean()),
                         "real": float(reference.mean()), "pipeline": float(pipeline.mean())})
            print(f"{item['id']:28s} generated {rows[-1]['generated']:.3f} pipeline {rows[-1]['pipeline']:.3f} "
                  f"real {rows[-1]['real']:.3f}", flush=True)
    args.json.write_text(json.dumps({"model": str(args.model), "seed": args.seed, "items": rows}, indent=1))


if __name__ == "__main__":
    main()
