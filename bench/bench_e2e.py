"""End-to-end row ``e2e_1s_to_3s``: a 1 s prompt continued to 3 s of audio with the full AudioLM pipeline.

MFCC + k-means semantic tokenizer (500 random centroids), the default SoundStream (12 x 1024 RVQ, 50 Hz),
three untrained stages of dim 256, depth 4, heads 4; ``continue_audio(prompt, seconds=2,
return_prompt=True)``, so the output is 3 s (prompt re-synthesised + 2 s continuation), the same work as
the peer row (bench/peer/measure_peer.py). Median of 5 runs after a warm-up, 2 threads, fixed seeds.

Rows per acoustic generator, ``e2e_1s_to_3s_<generator>`` (same pipeline, only the acoustic generator differs;
median of 3): ``delay`` / ``multiscale`` (coarse + fine stages in that layout), ``parallel`` (one
``ParallelAcousticLM`` of the same size for all 12 levels, 16 + 11 passes), ``*_int8`` (semantic stage and
acoustic generator int8-quantised, ``AudioLM.quantize_int8``), and ``e2e_1s_to_3s_batch4_<generator>``: four prompts continued as one batch (``median_s`` is
per prompt, ``batch_s`` the whole batch).

``AUDIOLM_BENCH_QUICK=1`` (or ``run(quick=True)``): 0.5 s prompt + 0.5 s, one run, no breakdown, no extra rows.
"""
from __future__ import annotations

import json
import os
import statistics
import time

import torch
from _timing import reset_peak_rss, rss_mb, timed_runs

SAMPLE_RATE = 16000


GENERATORS = ("delay", "delay_int8", "multiscale", "parallel", "parallel_int8")
BATCHED = ("delay", "parallel")


def build_pipeline(device: str = "cpu", generator: str = "flat"):
    """The benchmark pipeline: untrained, seeded, in eval mode on ``device``; ``generator``: the acoustic
    generator (``flat`` / ``delay`` / ``multiscale`` coarse + fine stages, or ``parallel``); a ``_int8`` suffix
    int8-quantises the semantic stage and the acoustic generator (``AudioLM.quantize_int8``)."""
    from audiolm_lib.codecs.soundstream import SoundStream
    from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig, SemanticLM, SemanticLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig
    from audiolm_lib.pipeline import AudioLM
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer

    torch.manual_seed(0)
    shape = TransformerConfig(dim=256, depth=4, heads=4)
    tokenizer = SemanticTokenizer.mfcc(torch.randn(500, 39))
    codec = SoundStream()
    semantic = SemanticLM(SemanticLMConfig(vocab_size=500, transformer=shape))
    base = generator.removesuffix("_int8")
    if base == "parallel":
        from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig

        acoustic = ParallelAcousticLM(ParallelAcousticLMConfig(semantic_vocab_size=500, codebook_size=1024,
                                                               num_quantizers=12, transformer=shape))
        model = AudioLM(tokenizer, codec, semantic, acoustic=acoustic)
    else:
        coarse = CoarseLM(CoarseLMConfig(semantic_vocab_size=500, codebook_size=1024, num_coarse_quantizers=4,
                                         transformer=shape, layout=base))
        fine = FineLM(FineLMConfig(codebook_size=1024, num_coarse_quantizers=4, num_fine_quantizers=8,
                                   transformer=shape, layout=base))
        model = AudioLM(tokenizer, codec, semantic, coarse, fine)
    model = model.to(device).eval()
    return model.quantize_int8() if generator.endswith("_int8") else model


def _stage_timer(model, breakdown: dict):
    """Wrap the pipeline's component calls so one run reports where its time went."""
    targets = [(model.semantic_tokenizer, "tokenize", "tokenize"), (model.codec, "encode", "codec_encode"),
               (model.semantic_lm, "generate", "semantic"), (model.codec, "decode", "codec_decode")]
    if model.coarse_lm is not None:
        targets += [(model.coarse_lm, "generate", "coarse"), (model.fine_lm, "generate", "fine")]
    else:
        targets += [(model.acoustic, "generate_acoustic", "acoustic")]
    for obj, method, key in targets:
        original = getattr(obj, method)

        def timed(*args, _original=original, _key=key, **kwargs):
            start = time.perf_counter()
            out = _original(*args, **kwargs)
            breakdown[_key] = breakdown.get(_key, 0.0) + time.perf_counter() - start
            return out

        setattr(obj, method, timed)  # instance attribute shadows the method for this one run
    return lambda: [obj.__dict__.pop(method, None) for obj, method, _ in targets]


def run(device: str = "cpu", quick: bool | None = None) -> dict:
    if quick is None:
        quick = os.environ.get("AUDIOLM_BENCH_QUICK") == "1"
    torch.set_num_threads(2)
    prompt_s, new_s, repeats = (0.5, 0.5, 1) if quick else (1.0, 2.0, 5)
    model = build_pipeline(device)
    torch.manual_seed(0)
    t = torch.arange(int(prompt_s * SAMPLE_RATE)) / SAMPLE_RATE
    prompt = (0.3 * torch.sin(2 * torch.pi * 220 * t) + 0.05 * torch.randn_like(t))[None]  # [1, T]
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def once() -> torch.Tensor:
        generator = torch.Generator(device=device).manual_seed(0)
        wave = model.continue_audio(prompt.to(device), seconds=new_s, sample_rate=SAMPLE_RATE,
                                    generator=generator, return_prompt=True)
        sync()
        return wave

    wave = once()  # warm-up
    output_s = wave.shape[-1] / SAMPLE_RATE
    reset_peak_rss()
    times, cpu_times = timed_runs(once, repeats, warmup=False)
    peak = rss_mb("VmHWM")
    peak = round(peak, 1) if peak is not None else None
    breakdown: dict = {}
    if not quick:  # one more run, instrumented, to show where the time goes
        restore = _stage_timer(model, breakdown)
        try:
            once()
        finally:
            restore()
    median = statistics.median(times)
    rows = {
        "e2e_1s_to_3s": {
            "median_s": median,
            "runs": repeats,
            "times_s": [round(x, 4) for x in times],
            "cpu_s": round(statistics.median(cpu_times), 4),  # process CPU time: less sensitive to other load
            "peak_rss_mb": peak,
            "prompt_s": prompt_s,
            "output_s": output_s,
            "realtime_factor": output_s / median,
            "breakdown_s": {key: round(value, 4) for key, value in breakdown.items()},
            "note": "continue_audio(1 s prompt, seconds=2, return_prompt=True): MFCC tokenizer, default "
                    "SoundStream, untrained dim-256 depth-4 stages",
        }
    }
    if not quick:
        rows.update(generator_rows(prompt, device, sync))
    return rows


def generator_rows(prompt: torch.Tensor, device: str, sync, repeats: int = 3) -> dict:
    """``e2e_1s_to_3s_<generator>`` and ``e2e_1s_to_3s_batch4_<generator>`` rows (see the module docstring)."""
    rows = {}
    for generator in GENERATORS:
        model = build_pipeline(device, generator)
        for batch in (1, 4) if generator in BATCHED else (1,):
            prompts = prompt.to(device).expand(batch, 1, -1) if batch > 1 else prompt.to(device)

            def once() -> torch.Tensor:
                wave = model.continue_audio(prompts, seconds=2.0, sample_rate=SAMPLE_RATE,
                                            generator=torch.Generator(device=device).manual_seed(0), return_prompt=True)
                sync()
                return wave

            wave = once()
            times, cpu_times = timed_runs(once, repeats, warmup=False)
            name = f"e2e_1s_to_3s_{generator}" if batch == 1 else f"e2e_1s_to_3s_batch{batch}_{generator}"
            output_s = wave.shape[-1] / SAMPLE_RATE
            median = statistics.median(times) / batch
            rows[name] = {"median_s": median, "runs": repeats, "times_s": [round(x, 4) for x in times],
                          "cpu_s": round(statistics.median(cpu_times) / batch, 4), "output_s": output_s,
                          "realtime_factor": output_s / median, "batch": batch,
                          **({"batch_s": round(statistics.median(times), 4)} if batch > 1 else {})}
    return rows


if __name__ == "__main__":
    print(json.dumps(run()))
