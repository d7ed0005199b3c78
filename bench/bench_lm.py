"""Speed of the three LM stages (untrained weights): cached generation and one training step each.

Config: dim 256, depth 4, heads 4, 500 semantic ids, 1024 codes, 4 coarse + 8 fine levels, 50 Hz,
batch 1 for generation, batch 4 x 100 frames (2 s) for training, ``torch.set_num_threads(2)``.
Prints JSON: seconds (median of 5 after a warm-up) and tokens per second.
"""
from __future__ import annotations

import json
import statistics
import time

import torch

REPEATS = 5


def _median_seconds(fn, repeats: int = REPEATS) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
        lambda: semantic_lm.generate(semantic[:1, :0], 100, generator=generator))
    results["gen_coarse_100f"] = _median_seconds(
        lambda: coarse_lm.generate(semantic[:1], None, frames, generator=generator))
    results["gen_fine_100f"] = _median_seconds(lambda: fine_lm.generate(coarse[:1], None, generator=generator))
    results["tokens_per_s_semantic"] = 100 / results["gen_semantic_100"]
    results["tokens_per_s_coarse"] = 4 * frames / results["gen_coarse_100f"]
    results["tokens_per_s_fine"] = 8 * frames / results["gen_fine_100f"]
    results["ms_per_token_fine"] = 1000 * results["gen_fine_100f"] / (8 * frames)

    def train_step(model, *batch):
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def step():
            optimizer.zero_grad(set_to_none=True)
            model(*batch).backward()
            optimizer.step()

        seconds = _median_seconds(step)
        model.eval()
        return seconds

    results["train_step_semantic"] = train_step(semantic_lm, semantic)
    results["train_step_coarse"] = train_step(coarse_lm, semantic, coarse)
    results["train_step_fine"] = train_step(fine_lm, coarse, fine)
    results["threads"] = torch.get_num_threads()
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in results.items()}


if __name__ == "__main__":
    print(json.dumps(run()))
