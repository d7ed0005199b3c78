"""Speed of the three LM stages (untrained weights): cached generation and one training step each.

Config: dim 256, depth 4, heads 4, 500 semantic ids, 1024 codes, 4 coarse + 8 fine levels, 50 Hz,
batch 1 for generation, batch 4 x 100 frames (2 s) for training, ``torch.set_num_threads(2)``.
Prints JSON: seconds (median of 5 after a warm-up) and tokens per second.
"""
from __future__ import annotations

import functools
import json
import os

import torch
from _timing import median_seconds

REPEATS = 1 if os.environ.get("AUDIOLM_BENCH_QUICK") else 5  # bench/run.py --quick sets it


CPU_SECONDS: dict[str, float] = {}  # process CPU time of the same runs (all threads): robust to a busy machine
_median_seconds = functools.partial(median_seconds, repeats=REPEATS, cpu_seconds=CPU_SECONDS)


def run(device: str = "cpu") -> dict:
    from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig, SemanticLM, SemanticLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig

    torch.set_num_threads(2)
    torch.manual_seed(0)
    tc = TransformerConfig(dim=256, depth=4, heads=4)
    semantic_lm = SemanticLM(SemanticLMConfig(vocab_size=500, transformer=tc)).to(device).eval()
    coarse_lm = CoarseLM(CoarseLMConfig(semantic_vocab_size=500, codebook_size=1024, num_coarse_quantizers=4,
                                        transformer=tc)).to(device).eval()
    fine_lm = FineLM(FineLMConfig(codebook_size=1024, num_coarse_quantizers=4, num_fine_quantizers=8,
                                  transformer=tc)).to(device).eval()
    frames = 100
    semantic = torch.randint(0, 500, (4, frames), device=device)
    coarse = torch.randint(0, 1024, (4, 4, frames), device=device)
    fine = torch.randint(0, 1024, (4, 8, frames), device=device)
    generator = torch.Generator(device=device).manual_seed(0)

    results: dict[str, float] = {}
    results["gen_semantic_100"] = _median_seconds(
        lambda: semantic_lm.generate(semantic[:1, :0], 100, generator=generator), name="gen_semantic_100")
    results["gen_coarse_100f"] = _median_seconds(
        lambda: coarse_lm.generate(semantic[:1], None, frames, generator=generator), name="gen_coarse_100f")
    results["gen_fine_100f"] = _median_seconds(lambda: fine_lm.generate(coarse[:1], None, generator=generator),
                                                name="gen_fine_100f")
    results["tokens_per_s_semantic"] = 100 / results["gen_semantic_100"]
    results["tokens_per_s_coarse"] = 4 * frames / results["gen_coarse_100f"]
    results["tokens_per_s_fine"] = 8 * frames / results["gen_fine_100f"]
    results["ms_per_token_fine"] = 1000 * results["gen_fine_100f"] / (8 * frames)

    def train_step(name, model, *batch):
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)

        def step():
            optimizer.zero_grad(set_to_none=True)
            model(*batch).backward()
            optimizer.step()

        seconds = _median_seconds(step, name=name)
        model.eval()
        return seconds

    results["train_step_semantic"] = train_step("train_step_semantic", semantic_lm, semantic)
    results["train_step_coarse"] = train_step("train_step_coarse", coarse_lm, semantic, coarse)
    results["train_step_fine"] = train_step("train_step_fine", fine_lm, coarse, fine)
    # process CPU seconds (all threads) of the same runs: on a busy shared machine wall time mostly measures
    # waiting; CPU time is closer to what a quiet machine would show (bench/run.py keeps "meta*" out of rows)
    results["meta_cpu_s"] = {key: round(value, 4) for key, value in CPU_SECONDS.items()}
    results["threads"] = torch.get_num_threads()
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in results.items()}


if __name__ == "__main__":
    print(json.dumps(run()))
