"""Semantic tokenizer speed: tokenize 10 s of 16 kHz audio (median of 5 after a warm-up, 2 threads).

Rows:
    tokenize_10s: MFCC (+deltas, 39 dims) features + 500-centroid k-means. Target <= 0.05 s.
    tokenize_10s_hubert_base: HuBERT-base-size random weights (768 dim, 12 layers, all used) + 500 centroids;
        time and peak memory (RSS high-water mark during the call on CPU, max allocated on CUDA).
"""
from __future__ import annotations

import json
import os

import torch
from _timing import median_seconds, reset_peak_rss, rss_mb

QUICK_ENV = "AUDIOLM_BENCH_QUICK"


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
    sync = torch.cuda.synchronize if device.startswith("cuda") else None  # count the device's queued work
    rows = {}

    mfcc = SemanticTokenizer.mfcc(torch.randn(500, 39)).to(device)
    rows["tokenize_10s"] = {
        "median_s": round(median_seconds(lambda: mfcc.tokenize(wave), repeats, sync=sync), 5),
        "features": "mfcc-39", "clusters": 500, "audio_s": seconds, "device": device, "threads": 2,
    }
    if device == "cpu":  # diagnostic: on a busy machine two threads can be far slower than one
        torch.set_num_threads(1)
        rows["tokenize_10s"]["median_s_1_thread"] = round(median_seconds(lambda: mfcc.tokenize(wave), repeats, sync=sync), 5)
        torch.set_num_threads(2)

    hubert = _hubert_base_tokenizer(500).to(device)
    hubert_row = {"median_s": round(median_seconds(lambda: hubert.tokenize(wave), repeats, sync=sync), 4),
                  "features": "hubert-base random, layer 12", "clusters": 500, "audio_s": seconds, "device": device}
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        hubert.tokenize(wave)
        hubert_row["peak_mem_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    else:
        before = rss_mb()
        if reset_peak_rss():
            hubert.tokenize(wave)
            hubert_row["peak_rss_mb"] = round(rss_mb("VmHWM"), 1)
            hubert_row["call_peak_extra_mb"] = round(rss_mb("VmHWM") - before, 1)
        else:
            hubert_row["peak_rss_mb"] = round(rss_mb("VmHWM"), 1)
    hubert_row["weights_mb"] = round(sum(p.numel() * p.element_size() for p in hubert.parameters()) / 2**20, 1)
    rows["tokenize_10s_hubert_base"] = hubert_row
    return rows


if __name__ == "__main__":
    print(json.dumps(run()))
