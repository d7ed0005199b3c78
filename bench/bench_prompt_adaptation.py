"""What prompt adaptation costs (``audiolm_lib/lm/prompt_adaptation.py``): a 3 s speech prompt continued by 7 s with
the shipped speech model, at several ``prompt_adaptation_steps`` (0: the model as shipped, int8 acoustic generator
as ``audiolm continue`` runs it; above 0: the float generator, which the adapted copy fine-tunes). Median of 3 after a
warm-up, 2 threads, the prompt of ``audiolm demo --speech``; prints JSON:

    python bench/bench_prompt_adaptation.py [--model checkpoints/speech] [--steps 0,20,60] [--parts transformer]
        [--learning-rate 3e-4] [--anchor-weight 3] [--out FILE]

(``--parts`` / ``--learning-rate`` / ``--anchor-weight``: the weights the copy trains, its rate and the pull toward
the generator's own predictions, whose new content is generated once per prompt; default: the model's config.)
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from _timing import timed_runs  # noqa: E402

PROMPT_SECONDS, SECONDS = 3.0, 7.0


def main() -> None:
    from audiolm_lib.datasets.speech import SAMPLE_RATE
    from audiolm_lib.demo import speech_prompt
    from audiolm_lib.pipeline import AudioLM

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(REPO_ROOT / "checkpoints" / "speech"))
    parser.add_argument("--steps", default="0,20,60")
    parser.add_argument("--parts", default=None, help="all or transformer (default: the model's)")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the model's")
    parser.add_argument("--anchor-weight", type=float, default=None, help="default: the model's")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = AudioLM.from_pretrained(args.model)
    if args.parts is not None:
        model.config.prompt_adaptation_parts = args.parts
    if args.learning_rate is not None:
        model.config.prompt_adaptation_learning_rate = args.learning_rate
    if args.anchor_weight is not None:
        model.config.prompt_adaptation_anchor_weight = args.anchor_weight
    quantized = model.quantize_int8("preferred")
    prompt, _ = speech_prompt(PROMPT_SECONDS, seed=7)
    rows = {}
    for steps in (int(s) for s in args.steps.split(",")):
        runner = quantized if steps == 0 else model

        def once():
            return runner.continue_audio(prompt, SECONDS, sample_rate=SAMPLE_RATE, adaptation_steps=steps,
                                         generator=torch.Generator().manual_seed(0))

        wall, cpu = timed_runs(once, args.repeats)
        rows[f"steps_{steps}"] = {"median_s": round(statistics.median(wall), 3), "runs_s": [round(w, 3) for w in wall],
                                  "real_time_factor": round(statistics.median(wall) / SECONDS, 3),
                                  "int8_acoustic": steps == 0}
    result = {"model": args.model, "prompt_seconds": PROMPT_SECONDS, "seconds": SECONDS, "threads": 2,
              "batch": model.config.prompt_adaptation_batch,
              "learning_rate": model.config.prompt_adaptation_learning_rate,
              "parts": model.config.prompt_adaptation_parts,
              "anchor_weight": model.config.prompt_adaptation_anchor_weight, "rows": rows}
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
