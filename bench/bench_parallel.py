"""Acoustic generators compared (untrained weights): 10 s and 30 s of all 12 RVQ levels from semantic tokens.

Generators (every Transformer dim 256, depth 4, heads 4, feed-forward x4; 500 semantic ids, 1024 codes, 50 Hz):

* ``flat`` / ``delay`` / ``multiscale``: the paper's coarse (levels 1-4, 10 s window, given semantic tokens) + fine
  (levels 5-12, 3 s windows, given levels 1-4) stages in that token layout (``HierarchicalAcoustic``);
* ``parallel``: :class:`~audiolm_lib.lm.parallel.ParallelAcousticLM`, one bidirectional model for all 12 levels,
  30 s window (SoundStorm's crop), 16 iterations for level 1 and 1 per other level (27 passes per window);
* ``parallel_w10``: the same with a 10 s window (30 s = 5 windows with half a window of context each);
* ``parallel_int8``: ``parallel`` with its Linear layers int8-quantised (``torch.ao.quantization.quantize_dynamic``).

Rows ``gen_acoustic_{10,30}s_<generator>``: ``median_s`` (wall, median of ``REPEATS`` after a warm-up; ``flat``
once at 30 s: it takes tens of seconds), ``cpu_s`` (process CPU time of the same runs), ``forward_passes``
(calls of a Transformer's ``forward`` or ``step``: every sequential network invocation, local models included),
``realtime_factor`` and ``speedup_vs_delay``. Generators are timed round-robin, so load drift on a shared
machine hits all alike; the load average before and after is reported.

    python bench/bench_parallel.py                      # JSON on stdout
    python bench/bench_parallel.py --peer               # + soundstorm-pytorch (bench/peer/setup_soundstorm_env.sh)
    python bench/bench_parallel.py --only parallel,delay --seconds 10
    python bench/run.py --only parallel                  # the same rows through the common runner (under "extra")
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
REPEATS = 3
GENERATORS = ("flat", "delay", "multiscale", "parallel", "parallel_w10", "parallel_int8")
LEVELS, CODES, VOCAB, RATE = 12, 1024, 500, 50
SOUNDSTORM_PYTHON = REPO_ROOT / ".venv-soundstorm" / "bin" / "python"


def build_generator(name: str):
    """The acoustic generator ``name`` (see the module docstring), untrained, seeded, in eval mode."""
    from audiolm_lib.lm.hierarchical import HierarchicalAcoustic
    from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig
    from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig

    torch.manual_seed(0)
    shape = TransformerConfig(dim=256, depth=4, heads=4)
    if name.startswith("parallel"):
        window = 10.0 if name == "parallel_w10" else 30.0
        model = ParallelAcousticLM(ParallelAcousticLMConfig(semantic_vocab_size=VOCAB, codebook_size=CODES,
                                                            num_quantizers=LEVELS, window_seconds=window,
                                                            transformer=shape)).eval()
        if name == "parallel_int8":
            from audiolm_lib.lm.quantize import quantize_linear_int8

            model = quantize_linear_int8(model)
        return model
    coarse = CoarseLM(CoarseLMConfig(semantic_vocab_size=VOCAB, codebook_size=CODES, num_coarse_quantizers=4,
                                     transformer=shape, layout=name))
    fine = FineLM(FineLMConfig(codebook_size=CODES, num_coarse_quantizers=4, num_fine_quantizers=LEVELS - 4,
                               transformer=shape, layout=name))
    return HierarchicalAcoustic(coarse, fine).eval()


@contextlib.contextmanager
def count_passes():
    """Count every ``Transformer.forward`` / ``Transformer.step`` call while inside: yields ``{"passes": n}``."""
    from audiolm_lib.lm.transformer import Transformer

    counter = {"passes": 0}
    forward, step = Transformer.forward, Transformer.step

    def counted(original):
        def wrapper(self, *args, **kwargs):
            counter["passes"] += 1
            return original(self, *args, **kwargs)
        return wrapper

    Transformer.forward, Transformer.step = counted(forward), counted(step)
    try:
        yield counter
    finally:
        Transformer.forward, Transformer.step = forward, step


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def run(device: str = "cpu", generators=GENERATORS, seconds_list=(10.0, 30.0), repeats: int = REPEATS,
        threads: int = 2, quick: bool = False) -> dict:
    """The rows of the module docstring; ``quick`` (``bench/run.py --only parallel --quick``): 2 s, delay and
    parallel only, one repeat."""
    if quick:
        generators, seconds_list, repeats = ("delay", "parallel"), (2.0,), 1
    torch.set_num_threads(threads)
    sampling = {"coarse": {"temperature": 1.0}, "fine": {"temperature": 1.0}, "acoustic": {"temperature": 1.0}}
    models = {name: build_generator(name) for name in generators}
    results: dict = {"meta": {"threads": torch.get_num_threads(), "load_before": _load(), "repeats": repeats,
                              "device": device, "config": "dim 256 depth 4 heads 4; 12 x 1024 codes at 50 Hz; "
                              "sequential: coarse 4 levels (10 s window) + fine 8 (3 s windows)"}}
    for seconds in seconds_list:
        frames = int(seconds * RATE)
        torch.manual_seed(1)
        semantic = torch.randint(0, VOCAB, (1, frames), device=device)

        def job(model):
            generator = torch.Generator(device=device).manual_seed(0)
            out = model.generate_acoustic(semantic, None, frames, sampling=sampling, generator=generator)
            assert out.shape == (1, LEVELS, frames), out.shape

        passes = {}
        for name, model in models.items():
            with count_passes() as counter:
                job(model)  # also the warm-up
            passes[name] = counter["passes"]
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
        for repeat in range(repeats):
            for name, model in models.items():
                if name == "flat" and seconds > 10 and repeat:
                    continue  # tens of seconds per run: once is enough to rank it
                start, cpu = time.perf_counter(), time.process_time()
                job(model)
                times[name].append((time.perf_counter() - start, time.process_time() - cpu))
        for name, runs in times.items():
            wall = statistics.median(t for t, _ in runs)
            results[f"gen_acoustic_{int(seconds)}s_{name}"] = {
                "median_s": round(wall, 4), "cpu_s": round(statistics.median(c for _, c in runs), 4),
                "times_s": [round(t, 4) for t, _ in runs], "forward_passes": passes[name],
                "realtime_factor": round(seconds / wall, 2)}
        delay = results.get(f"gen_acoustic_{int(seconds)}s_delay")
        for name in models:
            row = results[f"gen_acoustic_{int(seconds)}s_{name}"]
            if delay is not None:
                row["speedup_vs_delay"] = round(delay["median_s"] / row["median_s"], 2)
                row["cpu_speedup_vs_delay"] = round(delay["cpu_s"] / row["cpu_s"], 2)
    results["meta"]["load_after"] = _load()
    return results


def run_soundstorm(seconds_list=(10.0, 30.0), repeats: int = REPEATS, threads: int = 2, timeout: float = 3600) -> dict:
    """soundstorm-pytorch's rows from its own venv (``bench/peer/measure_soundstorm.py``), or ``{"error": ...}``."""
    if not SOUNDSTORM_PYTHON.exists():
        return {"error": f"{SOUNDSTORM_PYTHON} missing: run bash bench/peer/setup_soundstorm_env.sh"}
    command = [str(SOUNDSTORM_PYTHON), str(BENCH_DIR / "peer" / "measure_soundstorm.py"), "--repeats", str(repeats),
               "--threads", str(threads), "--seconds", *[str(s) for s in seconds_list]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-3:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(GENERATORS), help="comma-separated generators")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 30.0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the bench rows use 2)")
    parser.add_argument("--peer", action="store_true", help="also measure soundstorm-pytorch (same run)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    generators = tuple(name for name in args.only.split(",") if name)
    unknown = sorted(set(generators) - set(GENERATORS))
    if unknown:
        raise SystemExit(f"unknown generators {unknown}; choose from {GENERATORS}")
    results = run(generators=generators, seconds_list=tuple(args.seconds), repeats=args.repeats, threads=args.threads)
    if args.peer:
        peer = run_soundstorm(tuple(args.seconds), args.repeats, args.threads)
        results["soundstorm_pytorch"] = peer
        for seconds in args.seconds:
            ours = results.get(f"gen_acoustic_{int(seconds)}s_parallel")
            theirs = peer.get(f"gen_acoustic_{int(seconds)}s_soundstorm_pytorch") if isinstance(peer, dict) else None
            if ours and theirs:
                ours["speedup_vs_soundstorm_pytorch"] = round(theirs["median_s"] / ours["median_s"], 2)
                ours["cpu_speedup_vs_soundstorm_pytorch"] = round(theirs["cpu_s"] / ours["cpu_s"], 2)
        results["meta"]["load_after_peer"] = _load()
    text = json.dumps(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    main()
