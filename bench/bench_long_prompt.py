"""Long prompts cost what their context costs (issue 15): a 10 s and a 20 min prompt, the same 1 s continuation.

Rows (JSON on stdout):

- ``continue_cli_10s`` / ``continue_cli_20min``: one fresh ``audiolm continue`` process each (model loading,
  reading the prompt file, tokenizing, generating, decoding, writing the WAV) on the shipped piano model
  (``checkpoints/piano``); wall seconds and the process's peak RSS (``wait4`` rusage), median of ``repeats``.
- ``continue_api_10s`` / ``continue_api_20min``: ``AudioLM.continue_audio`` on an in-memory prompt tensor, in
  this process (time only: the caller's 20-minute tensor is its own memory).
- ``ratio``: 20 min / 10 s for each (targets: RSS <= 1.2x, time <= 1.5x).
- with ``--whole-minutes M``: ``continue_api_whole_<M>min``, the same call with the prompt cut disabled
  (the whole prompt encoded and decoded, as before issue 15), for scale.

    python bench/bench_long_prompt.py [--repeats 3] [--whole-minutes 2] [--quick]
    python bench/run.py --only long_prompt

``AUDIOLM_BENCH_QUICK=1`` / ``--quick``: 2 min instead of 20, one repeat.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = REPO_ROOT / "checkpoints" / "piano"
SAMPLE_RATE = 16000
OUTPUT_SECONDS = 1.0


def write_prompt(path: Path, seconds: float, sample_rate: int = SAMPLE_RATE) -> Path:
    """A piano-like test signal (decaying partials of changing notes), written block by block."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    block = sample_rate  # one note per second
    t = np.arange(block) / sample_rate
    with sf.SoundFile(str(path), "w", sample_rate, 1, subtype="PCM_16", format="WAV") as handle:
        for _ in range(int(round(seconds))):
            pitch = 220.0 * 2 ** (rng.integers(-12, 13) / 12)
            note = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in (1, 2, 3)) * np.exp(-3 * t)
            handle.write((0.25 * note + 0.003 * rng.standard_normal(block)).astype(np.float32))
    return path


def cli_run(prompt: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one ``audiolm continue`` process."""
    command = [sys.executable, "-m", "audiolm_lib.cli", "continue", str(MODEL_DIR), str(prompt), "-o", str(out),
               "-s", str(OUTPUT_SECONDS), "--seed", "0"]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO_ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"audiolm continue failed ({status}): {process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    return seconds, usage.ru_maxrss / 1024


def api_seconds(model, wave, repeats: int, whole: bool = False) -> float:
    import torch

    from audiolm_lib.prompt import NO_CUT

    if whole:
        model.prompt_cut = lambda *_: NO_CUT  # the pre-issue-15 behaviour: everything is encoded and decoded
    try:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.continue_audio(wave, OUTPUT_SECONDS, sample_rate=SAMPLE_RATE,
                                 generator=torch.Generator().manual_seed(0))
            times.append(time.perf_counter() - start)
    finally:
        model.__dict__.pop("prompt_cut", None)
    return statistics.median(times)


def run(device: str = "cpu", quick: bool = False, repeats: int | None = None, whole_minutes: float = 0.0) -> dict:
    import soundfile as sf
    import torch

    from audiolm_lib.pipeline import AudioLM

    quick = quick or os.environ.get("AUDIOLM_BENCH_QUICK") == "1"
    repeats = repeats or (1 if quick else 3)
    long_minutes = 2.0 if quick else 20.0
    results: dict = {"meta": {"model": str(MODEL_DIR.relative_to(REPO_ROOT)), "output_seconds": OUTPUT_SECONDS,
                              "repeats": repeats, "long_minutes": long_minutes, "threads": torch.get_num_threads()}}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        prompts = {"10s": write_prompt(folder / "p10s.wav", 10.0),
                   f"{long_minutes:g}min": write_prompt(folder / "plong.wav", long_minutes * 60)}
        cli = {}
        for name, path in prompts.items():
            runs = [cli_run(path, folder / f"out_{name}.wav") for _ in range(repeats)]
            cli[name] = {"median_s": round(statistics.median(r[0] for r in runs), 3),
                         "peak_rss_mb": round(statistics.median(r[1] for r in runs), 1)}
            results[f"continue_cli_{name}"] = cli[name]
        model = AudioLM.from_pretrained(MODEL_DIR).eval()
        api = {}
        for name, path in prompts.items():
            wave = torch.from_numpy(sf.read(str(path), dtype="float32")[0])[None]
            api_seconds(model, wave[..., :SAMPLE_RATE], 1)  # warm-up
            api[name] = round(api_seconds(model, wave, repeats), 3)
            results[f"continue_api_{name}"] = {"median_s": api[name]}
            del wave
        short, long = prompts
        results["ratio"] = {
            "cli_peak_rss": round(cli[long]["peak_rss_mb"] / cli[short]["peak_rss_mb"], 3),
            "cli_time": round(cli[long]["median_s"] / cli[short]["median_s"], 3),
            "api_time": round(api[long] / api[short], 3),
            "targets": "cli_peak_rss <= 1.2, cli_time <= 1.5",
        }
        if whole_minutes > 0:
            wave = torch.from_numpy(sf.read(str(write_prompt(folder / "pwhole.wav", whole_minutes * 60)),
                                            dtype="float32")[0])[None]
            results[f"continue_api_whole_{whole_minutes:g}min"] = {"median_s": round(api_seconds(model, wave, 1, True), 3),
                                                                   "note": "prompt cut disabled (whole prompt)"}
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--whole-minutes", type=float, default=0.0)
    args = parser.parse_args()
    print(json.dumps(run(args.device, args.quick, args.repeats, args.whole_minutes), indent=2))
