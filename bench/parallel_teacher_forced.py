"""Teacher-forced per-level cross-entropy of an AudioLM's parallel acoustic generator on a dataset's voices.

For each utterance of ``--manifest`` (split ``--split``), the first ``--seconds`` are tokenized by the model's
own tokenizer and codec; given the first ``--prompt`` seconds of codes and the true semantic tokens, the generator
scores every level of the rest (:meth:`ParallelAcousticLM.level_cross_entropy`), at each ``--guidance`` scale.
Baselines per clip and level: uniform (``ln K``) and the clip's own code frequencies of that level on the scored
frames (unigram entropy, an oracle no model beats without context). Results per speaker identity and overall,
as JSON (nats per token; lower is better):

    python bench/parallel_teacher_forced.py --model checkpoints/speech --manifest /work/data/recorded \\
        --split valid --per-identity 3 --guidance 1,1.5,2 --out bench/results/teacher_forced_recorded.json

This is the measurement issue 20 asks for before and after each lever (recorded voices in training,
``prompt_dropout`` + ``guidance_scale``, ``prompt_elsewhere``).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


def unigram_entropy(codes: torch.Tensor) -> float:
    """Entropy (nats) of the empirical distribution of ``codes: LongTensor[N]``."""
    counts = torch.bincount(codes.flatten()).float()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())


def main() -> None:
    sys.path.insert(0, str(REPO_ROOT))
    from audiolm_lib.audio import load_audio
    from audiolm_lib.datasets.manifest import read_manifest
    from audiolm_lib.pipeline import AudioLM

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="AudioLM folder with a parallel acoustic generator")
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--per-identity", type=int, default=3, help="utterances per speaker identity")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length scored (prompt included)")
    parser.add_argument("--prompt", type=float, default=3.0, help="prompt seconds (given on every level)")
    parser.add_argument("--guidance", default="1", help="comma-separated guidance scales")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = AudioLM.from_pretrained(args.model).eval()
    generator = model.acoustic
    if not hasattr(generator, "level_cross_entropy"):
        raise SystemExit(f"{args.model}: the acoustic generator is not a ParallelAcousticLM")
    scales = [float(s) for s in args.guidance.split(",")]
    seen: dict[str, int] = defaultdict(int)
    rows = []
    for entry in read_manifest(args.manifest):
        identity = str(entry.get("identity") or entry.get("speaker") or "?")
        if entry.get("split") != args.split or seen[identity] >= args.per_identity:
            continue
        if float(entry.get("duration") or 0) < args.prompt + 1.0:
            continue
        seen[identity] += 1
        rate = int(entry.get("sample_rate") or 16000)
        wave = load_audio(entry["audio"], sample_rate=rate)
        wave = wave[:, : int(min(args.seconds, generator.config.window_seconds) * rate)]
        semantic, codes = model.tokenize(wave, rate)
        prompt = int(round(args.prompt * model.acoustic_rate))
        scored = codes[0, :, prompt:]
        row = {"id": entry["id"], "identity": identity, "frames": int(codes.shape[-1]), "prompt_frames": prompt,
               "uniform": math.log(generator.codebook_size),
               "unigram": [unigram_entropy(level) for level in scored]}
        for scale in scales:
            row[f"guidance_{scale:g}"] = generator.level_cross_entropy(semantic, codes, prompt,
                                                                       guidance_scale=scale).tolist()
        rows.append(row)
        print(f"{entry['id']}: " + ", ".join(f"s={s:g} L1 {row[f'guidance_{s:g}'][0]:.2f}" for s in scales)
              + f" (unigram L1 {row['unigram'][0]:.2f})", file=sys.stderr)
    if not rows:
        raise SystemExit(f"no {args.split!r} utterance of at least {args.prompt + 1.0} s in {args.manifest}")
    keys = ["unigram"] + [f"guidance_{s:g}" for s in scales]

    def mean(group: list[dict]) -> dict:
        return {key: [round(sum(r[key][q] for r in group) / len(group), 4) for q in range(len(group[0][key]))]
                for key in keys} | {"items": len(group)}

    by_identity = defaultdict(list)
    for row in rows:
        by_identity[row["identity"]].append(row)
    result = {"model": args.model, "manifest": args.manifest, "split": args.split, "seconds": args.seconds,
              "prompt_seconds": args.prompt, "uniform": rows[0]["uniform"], "overall": mean(rows),
              "per_identity": {name: mean(group) for name, group in sorted(by_identity.items())}, "items": rows}
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
