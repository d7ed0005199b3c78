"""Streaming continuation (issue 21) on the shipped models: latency, speed, memory, seams, independence.

Per model (``checkpoints/speech``, ``checkpoints/piano``; int8 "preferred" as the CLI's default), a 3 s unseen
prompt (``audiolm_lib.demo``'s), ``AudioLM.stream`` with its default chunk plan:

- ``time_to_first_audio``: seconds from the ``stream`` call (prompt already loaded) to the first chunk out;
- ``rtf_30s``: compute seconds / audio seconds over a 30 s stream; ``rtf_after_first_chunk``: the same without
  the first chunk (the sustained rate);
- ``peak_rss_mb_30s`` / ``peak_rss_mb_long``: peak resident memory (VmHWM, reset before each stream) of a 30 s
  and a ``--long-seconds`` stream (chunks are consumed, not kept), and their ratio;
- ``seam_flux_*``: spectral flux at the decoder's chunk boundaries over the median elsewhere
  (``audiolm_lib.eval.seams``) in a ``--seam-seconds`` stream, and ``same_codes_*`` the same statistic of the
  one-shot decoding of that stream's own codes (what the audio holds there anyway);
- ``exact_*``: a 30 s stream with ``first_chunk_seconds=None, chunk_seconds=None`` (the one-shot computation):
  its codes equal ``continue_audio``'s; its seam flux next to the one-shot audio's flux at the same positions
  (same codes: the difference is what chunked decoding does);
- ``concurrent_equal``: two streams (seeds 1 and 2) advanced in turn on one model equal each run alone.

Writes the figure of the seam flux to ``--figure``. JSON on stdout.

    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE python bench/bench_stream.py --threads 2 [--long-seconds 600] [--quick]
    python bench/run.py --only stream
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import reset_peak_rss, rss_mb  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
PROMPT_SECONDS = 3.0


def prompt_for(kind: str) -> torch.Tensor:
    from audiolm_lib.demo import piano_prompt, speech_prompt

    wave, _ = piano_prompt(PROMPT_SECONDS, seed=7) if kind == "piano" else speech_prompt(PROMPT_SECONDS, seed=7)
    return wave


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def run_stream(model, prompt, seconds: float, seed: int, keep: bool = True, **options) -> dict:
    """One stream, consumed chunk by chunk; returns its stats, peak RSS, seams and (``keep``) the audio."""
    reset_peak_rss()
    stream = model.stream(prompt, seconds, sample_rate=model.sample_rate, generator=seeded(seed), **options)
    chunks, first_chunk_compute = [], None
    for chunk in stream:
        if first_chunk_compute is None:
            first_chunk_compute = (stream.elapsed, stream.samples_out)
        if keep:
            chunks.append(chunk)
    stats = stream.stats
    later_compute = stats["compute_seconds"] - first_chunk_compute[0]
    later_audio = (stream.samples_out - first_chunk_compute[1]) / model.sample_rate
    stats["rtf_after_first_chunk"] = later_compute / later_audio if later_audio else None
    stats["peak_rss_mb"] = rss_mb("VmHWM")
    return {"stats": stats, "seams": list(stream.decoder.seams), "codes": stream.codes,
            "wave": torch.cat(chunks, -1)[0, 0] if keep else None}


def bench_model(kind: str, long_seconds: float, seam_seconds: float, quick: bool) -> tuple[dict, dict]:
    from audiolm_lib.eval.seams import seam_flux, spectral_flux
    from audiolm_lib.pipeline import AudioLM

    model = AudioLM.from_pretrained(REPO_ROOT / "checkpoints" / kind).quantize_int8("preferred")
    prompt = prompt_for(kind)
    seconds = 10.0 if quick else 30.0
    run_stream(model, prompt, 2.0, seed=0)  # warm-up: allocator, int8 kernels, caches
    short = run_stream(model, prompt, seconds, seed=0)
    long = run_stream(model, prompt, long_seconds, seed=0, keep=False)  # before anything else is kept in memory
    # seams: on a longer stream (more of them), against the one-shot decoding of the very same codes (what the
    # audio has at those moments anyway: a note onset that happens to fall on a seam is not a seam artifact)
    seam_run = run_stream(model, prompt, seam_seconds, seed=0)
    seams = seam_flux(seam_run["wave"], seam_run["seams"])
    same_codes = model._decode_tail(seam_run["codes"], seam_run["codes"].shape[-1]
                                    - seam_run["wave"].shape[-1] // model.codec.hop_length)[0, 0]
    same_codes_seams = seam_flux(same_codes, seam_run["seams"])
    # the one-shot computation, streamed: the same codes as continue_audio, so its seams against the one-shot
    # audio at the same positions isolate what chunked decoding does
    exact = run_stream(model, prompt, seconds, seed=0, first_chunk_seconds=None)
    start = time.perf_counter()
    one_shot, tokens = model.continue_audio(prompt, seconds, sample_rate=model.sample_rate, generator=seeded(0),
                                            return_tokens=True)
    one_shot_seconds = time.perf_counter() - start
    exact_seams = seam_flux(exact["wave"], exact["seams"])
    reference = seam_flux(one_shot[0, 0], exact["seams"])
    check_seconds = 4.0 if quick else 8.0  # independence on a shorter stretch
    rate = model.sample_rate
    alone = [torch.cat(list(model.stream(prompt, check_seconds, sample_rate=rate, generator=seeded(s))), -1)
             for s in (1, 2)]
    together = [model.stream(prompt, check_seconds, sample_rate=rate, generator=seeded(s)) for s in (1, 2)]
    outputs = [[], []]
    while not all(stream.done for stream in together):
        for index, stream in enumerate(together):
            if not stream.done:
                outputs[index].append(stream.step())
    concurrent = [torch.cat(out, -1) for out in outputs]
    row = {
        "model": f"checkpoints/{kind}",
        "prompt_seconds": PROMPT_SECONDS,
        "stream_seconds": seconds,
        "chunks": short["stats"]["chunks"],
        "time_to_first_audio": round(short["stats"]["time_to_first_audio"], 3),
        "rtf_30s": round(short["stats"]["real_time_factor"], 3),
        "rtf_after_first_chunk": round(short["stats"]["rtf_after_first_chunk"], 3),
        "one_shot_rtf": round(one_shot_seconds / seconds, 3),
        "peak_rss_mb_30s": round(short["stats"]["peak_rss_mb"], 1),
        "long_seconds": long_seconds,
        "peak_rss_mb_long": round(long["stats"]["peak_rss_mb"], 1),
        "peak_rss_ratio_long_vs_30s": round(long["stats"]["peak_rss_mb"] / short["stats"]["peak_rss_mb"], 3),
        "rtf_long": round(long["stats"]["real_time_factor"], 3),
        "seam_stream_seconds": seam_seconds,
        "seams": len(seams["ratios"]),
        "seam_flux_mean_ratio": round(seams["mean_ratio"], 3),
        "seam_flux_median_ratio": round(statistics.median(seams["ratios"]), 3),
        "seam_flux_max_ratio": round(seams["max_ratio"], 3),
        "seams_above_1_5x": sum(r > 1.5 for r in seams["ratios"]),
        "same_codes_one_shot_decode_mean_ratio": round(same_codes_seams["mean_ratio"], 3),
        "same_codes_one_shot_decode_above_1_5x": sum(r > 1.5 for r in same_codes_seams["ratios"]),
        # mean flux at the seams, streamed over one-shot decoding of the same codes (1: the seams add nothing)
        "seam_flux_over_same_codes_one_shot": round(sum(seams["seam_flux"]) / sum(same_codes_seams["seam_flux"]), 3),
        "seam_flux_ratios": [round(r, 3) for r in seams["ratios"]],
        "exact_stream_time_to_first_audio": round(exact["stats"]["time_to_first_audio"], 3),
        "exact_stream_seam_flux_mean_ratio": round(exact_seams["mean_ratio"], 3),
        "exact_stream_seam_flux_max_ratio": round(exact_seams["max_ratio"], 3),
        "one_shot_flux_mean_ratio_at_those_seams": round(reference["mean_ratio"], 3),
        "one_shot_flux_max_ratio_at_those_seams": round(reference["max_ratio"], 3),
        "exact_stream_seam_flux_over_one_shot": round(sum(exact_seams["seam_flux"]) / sum(reference["seam_flux"]), 3),
        "exact_codes_equal": bool(torch.equal(exact["codes"], tokens["codes"])),
        "exact_samples_equal_one_shot": int(exact["wave"].shape[-1]) == int(one_shot.shape[-1]),
        "concurrent_equal": all(torch.equal(a, b) for a, b in zip(alone, concurrent)),
    }
    figure_seconds = 30.0  # the figure shows the seam run's first 30 s
    figure_samples = int(figure_seconds * model.sample_rate)
    curve = {"flux": spectral_flux(seam_run["wave"][:figure_samples]),
             "seams": [x for x in seam_run["seams"] if x < figure_samples], "median": seams["median_flux"],
             "rate": model.sample_rate}
    return row, curve


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(curves), 1, figsize=(11, 2.6 * len(curves)), squeeze=False)
    for ax, (kind, curve) in zip(axes[:, 0], curves.items()):
        hop_seconds = 160 / curve["rate"]
        times = torch.arange(len(curve["flux"])) * hop_seconds
        ax.plot(times, curve["flux"], linewidth=0.6, color="tab:blue", label="spectral flux")
        for index, seam in enumerate(curve["seams"]):
            ax.axvline(seam / curve["rate"], color="tab:red", linewidth=0.8, alpha=0.7,
                       label="chunk seam" if index == 0 else None)
        ax.axhline(curve["median"], color="black", linestyle="--", linewidth=0.8, label="median (max over 5 frames)")
        ax.set_title(f"checkpoints/{kind}: streamed continuation, spectral flux per 10 ms frame")
        ax.set_xlabel("seconds after the prompt")
        ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(device: str = "cpu", quick: bool = False, long_seconds: float = 600.0, seam_seconds: float = 180.0,
        models=("speech", "piano"), figure: Path | None = REPO_ROOT / "bench" / "results" / "stream_seams.png") -> dict:
    """``{"stream_<model>": row}`` (``python bench/run.py --only stream``); CPU only (the targets are CPU ones)."""
    if device != "cpu":
        raise ValueError("bench_stream measures the CPU targets of issue 21; run it with --device cpu")
    rows, curves = {}, {}
    for kind in models:
        rows[f"stream_{kind}"], curves[kind] = bench_model(kind, 30.0 if quick else long_seconds,
                                                           20.0 if quick else seam_seconds, quick)
        print(json.dumps(rows[f"stream_{kind}"]), file=sys.stderr, flush=True)
    if figure is not None:
        plot(curves, figure)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--long-seconds", type=float, default=600.0)
    parser.add_argument("--seam-seconds", type=float, default=180.0,
                        help="length of the stream whose seams are measured")
    parser.add_argument("--models", nargs="+", default=["speech", "piano"])
    parser.add_argument("--figure", type=Path, default=REPO_ROOT / "bench" / "results" / "stream_seams.png")
    parser.add_argument("--quick", action="store_true", help="10 s streams and a 30 s long one (smoke run)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = run(quick=args.quick, long_seconds=args.long_seconds, seam_seconds=args.seam_seconds, models=args.models,
               figure=args.figure)
    figure = str(args.figure.relative_to(REPO_ROOT)) if args.figure.is_relative_to(REPO_ROOT) else str(args.figure)
    print(json.dumps({"threads": args.threads, "rows": list(rows.values()), "figure": figure}, indent=2))


if __name__ == "__main__":
    main()
