"""All benchmarks of the library in one JSON object (issue 7); ``--peer`` adds audiolm-pytorch and the ratios.

    python bench/run.py                     # every row, CPU, 2 threads
    python bench/run.py --device cuda       # the same rows on a GPU
    python bench/run.py --peer              # + audiolm-pytorch 2.4.0 (bench/peer/setup_peer_env.sh first)
    python bench/run.py --only codec --quick
    python bench/run.py --only codec --peer --codec runs/codec/codec   # a codec folder instead of the shipped one

Each part (``bench/bench_<part>.py`` exposing ``run(device) -> dict``) runs in its own subprocess, so its
peak RSS is its own and one failing part leaves the others intact. Rows are normalised to
``{"median_s", "peak_rss_mb", ...}`` and get ``tokens_per_s`` / ``realtime_factor`` where these apply.
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
QUICK_ENV = "AUDIOLM_BENCH_QUICK"  # parts read this to use 1 repetition and small sizes

# part name -> (script, rows it must report)
PARTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "lm": ("bench_lm.py", ("gen_semantic_100", "gen_coarse_100f", "gen_fine_100f",
                           "train_step_semantic", "train_step_coarse", "train_step_fine")),
    "codec": ("bench_codec.py", ("codec_encode_10s", "codec_decode_10s")),
    "tokenizer": ("bench_tokenizer.py", ("tokenize_10s",)),
    "e2e": ("bench_e2e.py", ("e2e_1s_to_3s",)),
}
# Other benchmarks, run only when named in --only; their JSON is passed through under "extra".
EXTRA_PARTS = {"eval": "bench_eval.py", "layouts": "bench_layouts.py", "data": "bench_data.py",
               "long_prompt": "bench_long_prompt.py", "parallel": "bench_parallel.py", "stream": "bench_stream.py"}
DEFAULT_PARTS = tuple(PARTS)
# Scalar keys a part may report that are not rows (throughputs are re-derived here from the row times).
META_KEY_PREFIXES = ("tokens_per_s", "ms_per_", "threads", "meta", "device", "config", "note", "repeats")
ROW_ORDER = tuple(row for _, rows in PARTS.values() for row in rows)

# Work per row, to derive throughput: generated tokens, or seconds of audio processed / produced.
ROW_TOKENS = {"gen_semantic_100": 100, "gen_coarse_100f": 400, "gen_fine_100f": 800}
ROW_AUDIO_SECONDS = {"codec_encode_10s": 10.0, "codec_decode_10s": 10.0, "tokenize_10s": 10.0, "e2e_1s_to_3s": 3.0}
# The codec part also reports each codec family at its defaults (bench/bench_codec.py), and every codec gets an
# encode + decode row (``<prefix>_roundtrip_10s``, derived here), each compared with the peer's SoundStream.
CODEC_PREFIXES = ("codec", "codec_spectral", "codec_soundstream")
PEER_ROW = {f"{prefix}_{kind}_10s": f"codec_{kind}_10s" for prefix in CODEC_PREFIXES
            for kind in ("encode", "decode", "roundtrip")}
ROW_AUDIO_SECONDS.update({row: 10.0 for row in PEER_ROW})
SECONDS_KEYS = ("median_s", "seconds", "median_seconds", "time_s", "median", "s")

TARGETS = {
    "e2e_1s_to_3s": "median_s < 3 (faster than real time)",
    "gen_semantic_100": "speedup_vs_peer >= 10",
    "gen_coarse_100f": "speedup_vs_peer >= 10",
    "gen_fine_100f": "speedup_vs_peer >= 10",
    "train_step_fine": "speedup_vs_peer >= 4",
    "codec_encode_10s": "realtime_factor >= 10",
    "codec_decode_10s": "realtime_factor >= 10",
    # issue 12: encode + decode of 10 s on 2 threads, and against the peer's SoundStream in the same run
    "codec_roundtrip_10s": "median_s <= 0.15 and speedup_vs_peer >= 3",
    "codec_spectral_roundtrip_10s": "median_s <= 0.15 and speedup_vs_peer >= 3",
}
CODEC_ENV = "AUDIOLM_BENCH_CODEC"  # read by bench/bench_codec.py in the worker

PEER_SCRIPT = BENCH_DIR / "peer" / "measure_peer.py"
DEFAULT_PEER_PYTHON = REPO_ROOT / ".venv-peer" / "bin" / "python"


# ----------------------------------------------------------------------------------------------- worker side
def run_part_in_this_process(part: str, device: str, quick: bool) -> dict:
    """Import ``bench/<script>`` and call its ``run(device)``; used inside the per-part subprocess."""
    script = BENCH_DIR / (PARTS[part][0] if part in PARTS else EXTRA_PARTS[part])
    spec = importlib.util.spec_from_file_location(f"bench_{part}", script)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH_DIR))
    from _timing import process_peak_rss_mb

    spec.loader.exec_module(module)
    kwargs = {"device": device}
    if quick and "quick" in inspect.signature(module.run).parameters:
        kwargs["quick"] = True
    rows = module.run(**kwargs)
    return {"rows": rows, "peak_rss_mb": round(process_peak_rss_mb(), 1)}


# ----------------------------------------------------------------------------------------------- driver side
def _null_rows(part: str, reason: str) -> dict:
    return {row: {"median_s": None, "reason": reason} for row in PARTS[part][1]}


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:])


def _parse_last_json(stdout: str) -> dict:
    """The last line of stdout that parses as a JSON object (parts may print other things before it)."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    raise ValueError("no JSON object on stdout")


def _run_worker(part: str, device: str, quick: bool, timeout: float) -> dict:
    """``{"rows": ..., "peak_rss_mb": ...}`` from a fresh interpreter, or ``{"error": reason}``."""
    script = BENCH_DIR / (PARTS[part][0] if part in PARTS else EXTRA_PARTS[part])
    if not script.exists():
        return {"error": f"bench/{script.name} is not present"}
    env = dict(os.environ)
    if quick:
        env[QUICK_ENV] = "1"
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", part, "--device", device]
    if quick:
        command.append("--quick")
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"bench/{script.name} ran past {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": f"bench/{script.name} failed: {_last_lines(done.stderr)}"}
    try:
        result = _parse_last_json(done.stdout)
    except ValueError as exc:
        return {"error": f"bench/{script.name}: {exc}"}
    result["wall_s"] = round(time.perf_counter() - start, 2)
    return result


def run_part(part: str, device: str, quick: bool, timeout: float) -> dict:
    """Run one part in a fresh interpreter; returns ``{row: {...}}`` (rows are null with a reason on failure)."""
    result = _run_worker(part, device, quick, timeout)
    if "error" in result:
        return _null_rows(part, result["error"])
    script = BENCH_DIR / PARTS[part][0]
    rows = normalise_rows(result.get("rows") or {}, part_peak_rss_mb=result.get("peak_rss_mb"))
    meta = rows.pop("_meta", None)
    for row in PARTS[part][1]:
        rows.setdefault(row, {"median_s": None, "reason": f"bench/{script.name} did not report this row"})
    for values in rows.values():
        values.setdefault("part_wall_s", result["wall_s"])
    if meta:
        rows["_meta"] = meta
    return rows


def _seconds_of(values: dict):
    for key in SECONDS_KEYS:
        if key in values:
            return values[key]
    return None


def normalise_rows(raw: dict, part_peak_rss_mb: float | None = None) -> dict:
    """Bring a part's rows to ``{row: {"median_s": float | None, "peak_rss_mb": ..., ...}}``.

    A row is a dict naming its seconds under one of ``SECONDS_KEYS``, or, for the issue's row names only, a
    bare number (seconds) or None. Everything else (``META_KEY_PREFIXES``, other scalars) goes to ``_meta``;
    a ``{row: seconds}`` dict under a meta key ending in ``cpu_s`` becomes those rows' ``cpu_s``.
    """
    rows: dict = {}
    for name, value in raw.items():
        if name.startswith(META_KEY_PREFIXES):
            rows.setdefault("_meta", {})[name] = value
            continue
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (value is None or is_number) and name not in ROW_ORDER:
            # a part's extra scalar (a parameter count, an RTF it computed itself): metadata, not a row
            rows.setdefault("_meta", {})[name] = value
            continue
        if value is None:
            entry = {"median_s": None, "reason": "the part reported no time (optional dependency missing?)"}
        elif is_number:
            entry = {"median_s": float(value)}
        elif isinstance(value, dict) and (name in ROW_ORDER or _seconds_of(value) is not None):
            entry = dict(value)
            entry["median_s"] = _seconds_of(value)
        else:
            rows.setdefault("_meta", {})[name] = value
            continue
        if "peak_rss_mb" not in entry and part_peak_rss_mb is not None:
            entry["peak_rss_mb"] = part_peak_rss_mb
            entry["peak_rss_scope"] = "whole part process"
        add_derived(name, entry)
        rows[name] = entry
    meta = rows.pop("_meta", None)
    if meta:
        # per-row process CPU times a part reports as {row: seconds} under a key ending in "cpu_s"
        for key, value in meta.items():
            if key.endswith("cpu_s") and isinstance(value, dict):
                for row, cpu_seconds in value.items():
                    if row in rows and isinstance(cpu_seconds, (int, float)):
                        rows[row].setdefault("cpu_s", cpu_seconds)
        rows["_meta"] = meta
    return rows


def add_derived(name: str, entry: dict) -> None:
    """Fill ``tokens_per_s`` and ``realtime_factor`` (audio seconds per wall second) where they apply."""
    seconds = entry.get("median_s")
    if not isinstance(seconds, (int, float)) or seconds <= 0:
        return
    if name in ROW_TOKENS:
        entry.setdefault("tokens", ROW_TOKENS[name])
        entry.setdefault("tokens_per_s", entry["tokens"] / seconds)
    if name in ROW_AUDIO_SECONDS:
        audio = entry.get("output_s") or entry.get("audio_s") or ROW_AUDIO_SECONDS[name]
        entry.setdefault("realtime_factor", audio / seconds)


def run_peer(device: str, quick: bool, peer_python: Path, rows: list[str], timeout: float) -> dict:
    """Measure audiolm-pytorch in its venv; returns ``{"rows": ..., "meta": ...}`` or ``{"error": ...}``."""
    if not peer_python.exists():
        return {"error": f"no peer interpreter at {peer_python}; run: bash bench/peer/setup_peer_env.sh"}
    command = [str(peer_python), str(PEER_SCRIPT), "--device", device, "--only", ",".join(rows)]
    if quick:
        command += ["--repeats", "1", "--gen-repeats", "1"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"peer measurement ran past {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": f"peer measurement failed: {_last_lines(done.stderr)}"}
    result = _parse_last_json(done.stdout)
    result["rows"] = add_roundtrip_rows(normalise_rows(result.get("rows") or {}))
    return result


def add_roundtrip_rows(rows: dict) -> dict:
    """``<prefix>_roundtrip_10s`` (encode + decode medians, and CPU seconds) for each codec measured both ways."""
    for prefix in CODEC_PREFIXES:
        encode, decode = rows.get(f"{prefix}_encode_10s", {}), rows.get(f"{prefix}_decode_10s", {})
        seconds = [encode.get("median_s"), decode.get("median_s")]
        if not all(isinstance(value, (int, float)) for value in seconds):
            continue
        entry = {"median_s": sum(seconds), "note": "encode + decode medians"}
        cpu = [encode.get("cpu_s"), decode.get("cpu_s")]
        if all(isinstance(value, (int, float)) for value in cpu):
            entry["cpu_s"] = sum(cpu)
        add_derived(f"{prefix}_roundtrip_10s", entry)
        rows[f"{prefix}_roundtrip_10s"] = entry
    return rows


def compare(ours: dict, peer_rows: dict, key: str = "median_s") -> dict:
    """``{row: peer_seconds / our_seconds}`` (> 1: we are faster) for rows both sides measured.

    The codec rows of every codec are compared with the peer's codec rows (:data:`PEER_ROW`). ``key="cpu_s"``
    compares process CPU time instead, for rows where both sides report it.
    """
    ratios = {}
    for row in [*ROW_ORDER, *(row for row in PEER_ROW if row not in ROW_ORDER)]:
        a, b = ours.get(row, {}).get(key), peer_rows.get(PEER_ROW.get(row, row), {}).get(key)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0:
            ratios[row] = round(b / a, 2)
    return ratios


def check_targets(ours: dict, speedups: dict, with_peer: bool) -> dict:
    verdicts = {}
    for row, target in TARGETS.items():
        entry = ours.get(row, {})
        if row.endswith("_roundtrip_10s"):  # a time bound and a ratio to the peer, both
            value = {"median_s": entry.get("median_s"), "speedup_vs_peer": speedups.get(row)}
            fast = None if value["median_s"] is None else value["median_s"] <= 0.15
            if not with_peer:
                verdicts[row] = {"target": target, "value": value, "met": False if fast is False else None,
                                 "why": "the peer half needs --peer"}
                continue
            faster = None if value["speedup_vs_peer"] is None else value["speedup_vs_peer"] >= 3.0
            met = False if False in (fast, faster) else (None if None in (fast, faster) else True)
        elif "speedup_vs_peer" in target:
            if not with_peer:
                verdicts[row] = {"target": target, "met": None, "why": "needs --peer"}
                continue
            value = speedups.get(row)
            threshold = 10.0 if row.startswith("gen_") else 4.0
            met = None if value is None else value >= threshold
        elif row == "e2e_1s_to_3s":
            value = entry.get("median_s")
            met = None if value is None else value < 3.0
        else:
            value = entry.get("realtime_factor")
            met = None if value is None else value >= 10.0
        verdicts[row] = {"target": target, "value": value, "met": met}
    return verdicts


def machine_info(device: str) -> dict:
    import torch

    info = {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "threads": 2,
        "device": device,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def hardware_bounds(device: str, quick: bool = False) -> dict:
    """What an ideal batch-1 decoder step could reach here: weight bytes / read bandwidth, FLOPs / GEMM rate.

    Per generated token a decoder step reads every Transformer weight once (plus one output head) and does
    ~2 FLOPs per weight; generation rows are compared against these floors in BENCHMARKS.md.
    """
    import torch

    if not device.startswith("cpu"):
        return {"note": "bounds are measured for the CPU only"}
    torch.set_num_threads(2)
    dim, depth, ff_mult, codebook = 256, 4, 4, 1024
    per_block = 4 * dim * dim + 2 * dim * dim * ff_mult + dim * ff_mult + dim + 4 * dim  # qkv+out, ff, biases, norms
    weights = depth * per_block + 2 * dim + dim * (codebook + 1)  # + final norm + one level's output head
    try:
        from audiolm_lib.lm.transformer import Transformer, TransformerConfig

        body = Transformer(TransformerConfig(dim=dim, depth=depth, heads=4))
        weights = sum(p.numel() for p in body.parameters()) + dim * (codebook + 1)
    except Exception:  # the analytic count above stands in when the module is absent or changed
        pass
    weight_bytes = 4 * weights

    def best_seconds(fn, repeats: int) -> float:
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    dram = torch.ones((16 if quick else 64) * 2**20)  # 64 / 256 MiB: far beyond L2, read from L3/DRAM
    cached = torch.ones(weight_bytes // 4)  # the size of the decoder's weights
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    dram_gbs = dram.numel() * 4 / best_seconds(dram.sum, 5) / 1e9
    cached_gbs = cached.numel() * 4 / best_seconds(cached.sum, 20) / 1e9
    gemm_gflops = 2 * 512**3 / best_seconds(lambda: a @ b, 20) / 1e9
    bounds = {
        "decoder_weights_per_token": weights,
        "decoder_weight_mb_per_token": round(weight_bytes / 2**20, 2),
        "read_gbs_large_buffer": round(dram_gbs, 1),
        "read_gbs_weight_sized": round(cached_gbs, 1),
        "gemm_gflops_512": round(gemm_gflops, 1),
        "ms_per_token_floor_bandwidth": round(1e3 * weight_bytes / (cached_gbs * 1e9), 3),
        "ms_per_token_floor_compute": round(1e3 * 2 * weights / (gemm_gflops * 1e9), 3),
    }
    bounds["rows_floor_s"] = {row: round(tokens * bounds["ms_per_token_floor_bandwidth"] / 1e3, 3)
                              for row, tokens in ROW_TOKENS.items()}
    return bounds


def run_all(device: str = "cpu", parts: list[str] | None = None, quick: bool = False, peer: bool = False,
            peer_python: Path = DEFAULT_PEER_PYTHON, timeout: float = 1800.0, log=None) -> dict:
    """Measure ``parts`` (default: all) and, with ``peer``, the peer on the same rows; one JSON-able dict."""
    parts = parts or list(DEFAULT_PARTS)
    unknown = [p for p in parts if p not in PARTS and p not in EXTRA_PARTS]
    if unknown:
        raise ValueError(f"unknown benchmark parts {unknown}; known: {', '.join([*PARTS, *EXTRA_PARTS])}")
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    rows: dict = {}
    part_meta: dict = {}
    extra: dict = {}
    for part in parts:
        log(f"[bench] {part} ...")
        if part in EXTRA_PARTS:
            extra[part] = _run_worker(part, device, quick, timeout)
            continue
        part_rows = run_part(part, device, quick, timeout)
        if "_meta" in part_rows:
            part_meta[part] = part_rows.pop("_meta")
        rows.update(part_rows)
    add_roundtrip_rows(rows)
    # The rows first, then any extra rows a part reports (e.g. a HuBERT-size tokenizer variant).
    ordered = {row: rows[row] for row in ROW_ORDER if row in rows}
    ordered.update({row: values for row, values in rows.items() if row not in ordered})
    result = {"machine": machine_info(device), "quick": quick, "rows": ordered,
              "bounds": hardware_bounds(device, quick)}
    if part_meta:
        result["part_meta"] = part_meta
    if extra:
        result["extra"] = extra
    speedups: dict = {}
    if peer:
        log("[bench] peer (audiolm-pytorch) ...")
        wanted = [row for row in ROW_ORDER if row in ordered]
        peer_result = run_peer(device, quick, Path(peer_python), wanted, 3 * timeout)  # the peer is slow
        result["peer"] = peer_result
        speedups = compare(ordered, peer_result.get("rows", {}))
        result["speedup_vs_peer"] = speedups
        cpu_speedups = compare(ordered, peer_result.get("rows", {}), key="cpu_s")
        if cpu_speedups:
            result["cpu_time_speedup_vs_peer"] = cpu_speedups
    result["targets"] = check_targets(ordered, speedups, peer)
    if quick:  # quick sizes differ from the targets' sizes: report values, judge nothing
        for verdict in result["targets"].values():
            verdict.update(met=None, why="quick mode")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the audiolm_lib benchmarks and print one JSON object.")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--only", default="", help=f"comma-separated parts: {', '.join([*PARTS, *EXTRA_PARTS])} "
                        f"(default: {','.join(DEFAULT_PARTS)})")
    parser.add_argument("--quick", action="store_true", help="1 repetition and small sizes (smoke test)")
    parser.add_argument("--peer", action="store_true", help="also measure audiolm-pytorch 2.4.0 and print ratios")
    parser.add_argument("--peer-python", default=str(DEFAULT_PEER_PYTHON), help="the peer venv's interpreter")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per part (3x for the peer)")
    parser.add_argument("--codec", default=None, help="codec folder (or AudioLM folder) for the codec rows "
                        "(default: checkpoints/piano/codec)")
    parser.add_argument("--out", default=None, help="also write the JSON to this file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:  # inside the per-part subprocess
        import torch

        torch.set_num_threads(2)
        print(json.dumps(run_part_in_this_process(args.worker, args.device, args.quick)))
        return 0

    parts = [p for p in args.only.split(",") if p] or None
    if args.codec:
        os.environ[CODEC_ENV] = str(Path(args.codec).resolve())
    try:
        result = run_all(args.device, parts, args.quick, args.peer, Path(args.peer_python), args.timeout)
    except ValueError as exc:
        parser.error(str(exc))
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
