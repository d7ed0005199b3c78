"""Semantic tokenizer speed: tokenize 10 s of 16 kHz audio (median of 5 after a warm-up, 2 threads).

Rows:
    tokenize_10s: MFCC (+deltas, 39 dims) features + 500-centroid k-means. Target <= 0.05 s.
    tokenize_10s_hubert_base: HuBERT-base-size random weights (768 dim, 12 layers, all used) + 500 centroids;
        time and peak memory (RSS high-water mark during the call on CPU, max allocated on CUDA).
"""
from __future__ import annotations

import json
import os
import statistics
import time

import torch

QUICK_ENV = "AUDIOLM_BENCH_QUICK"


def _rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> bool:
    try:  # Linux: writing 5 to clear_refs resets VmHWM to the current RSS
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _time(fn, repeats: int, device: str) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _hubert_base_tokenizer(num_clusters: int):
    from transformers import HubertConfig, HubertModel

    from audiolm_lib.semantic.features import FeatureConfig, HubertFeatures
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer

    model = HubertModel(HubertConfig())  # hubert-base-ls960 sizes: 768 dim, 12 layers, 3072 ffn
    features = HubertFeatures(FeatureConfig(kind="hubert", layer=12), model)
    return SemanticTokenizer.from_features(features, torch.randn(num_clusters, 768))


def run(device: str = "cpu", quick: bool = False) -> dict:
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer

    quick = quick or os.environ.get(QUICK_ENV) == "1"
    torch.set_num_threads(2)
    torch.manual_seed(0)
    repeats = 1 if quick else 5
    seconds = 2.0 if quick else 10.0
    wave = (0.1 * torch.randn(1, 1, int(16000 * seconds))).to(device)
    rows = {}

    mfcc = SemanticTokenizer.mfcc(torch.randn(500, 39)).to(device)
    rows["tokenize_10s"] = {
        "median_s": round(_time(lambda: mfcc.tokenize(wave), repeats, device), 5),
        "features": "mfcc-39", "clusters": 500, "audio_s": seconds, "device": device, "threads": 2,
    }
    if device == "cpu":  # diagnostic: on a busy machine two threads can be far slower than one
        torch.set_num_threads(1)
        rows["tokenize_10s"]["median_s_1_thread"] = round(_time(lambda: mfcc.tokenize(wave), repeats, device), 5)
        torch.set_num_threads(2)

    hubert = _hubert_base_tokenizer(500).to(device)
    hubert_row = {"median_s": round(_time(lambda: hubert.tokenize(wave), repeats, device), 4),
                  "features": "hubert-base random, layer 12", "clusters": 500, "audio_s": seconds, "device": device}
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        hubert.tokenize(wave)
        hubert_row["peak_mem_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    else:
        before = _rss_mb()
        if _reset_peak_rss():
            hubert.tokenize(wave)
            hubert_row["peak_rss_mb"] = round(_rss_mb("VmHWM"), 1)
            hubert_row["call_peak_extra_mb"] = round(_rss_mb("VmHWM") - before, 1)
        else:
            hubert_row["peak_rss_mb"] = round(_rss_mb("VmHWM"), 1)
    hubert_row["weights_mb"] = round(sum(p.numel() * p.element_size() for p in hubert.parameters()) / 2**20, 1)
    rows["tokenize_10s_hubert_base"] = hubert_row
    return rows


if __name__ == "__main__":
    print(json.dumps(run()))
