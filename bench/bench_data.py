"""Data pipeline speed: token cache reads and builds, piano rendering (median of 5 after a warm-up, 2 threads).

Rows:
    token_cache_read_64: read 64 random items (20 s each: 1000 semantic ids + 12 x 1000 codes) from a
        memory-mapped cache of 256 items, as LongTensors. Stage training does this per batch.
    token_cache_build_10s: the cache's own overhead per 10 s file (decode, resample 16 -> 24 kHz, shard writes)
        with trivial stand-in tokenizer/codec, per file.
    piano_render_10s: render 10 s of four-voice piano with tinysoundfont (score parsing excluded).
"""
from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch
from _timing import median_seconds

QUICK_ENV = "AUDIOLM_BENCH_QUICK"


class _FrameTokenizer:
    sample_rate, frame_rate, vocab_size = 16000, 50.0, 500

    def tokenize(self, wave: torch.Tensor) -> torch.Tensor:
        frames = wave[:, 0, : wave.shape[-1] // 320 * 320].reshape(wave.shape[0], -1, 320)
        return (frames.abs().mean(-1) * 1000).long().clamp(0, 499)


class _FrameCodec:
    sample_rate, frame_rate, hop_length, num_quantizers, codebook_size = 24000, 50.0, 480, 12, 1024

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        frames = -(-wave.shape[-1] // 480)
        padded = torch.nn.functional.pad(wave[:, 0], (0, frames * 480 - wave.shape[-1])).reshape(wave.shape[0], frames, 480)
        base = (padded.abs().mean(-1) * 1e4).long()
        return torch.stack([(base + q) % 1024 for q in range(12)], dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.zeros(codes.shape[0], 1, codes.shape[-1] * 480)


def _synthetic_cache(directory: Path, items: int = 256, frames: int = 1000):
    """A cache written straight from random ids (no audio), shards of 64 items."""
    from audiolm_lib.serialization import atomic_write_text
    from audiolm_lib.training import token_cache as tc

    rng = np.random.default_rng(0)
    (directory / tc.SHARDS_DIR).mkdir(parents=True)
    names = []
    for shard in range(items // 64):
        batch = [
            ({"id": f"u{shard * 64 + k}", "split": "train"}, rng.integers(0, 500, frames).astype(np.uint16),
             rng.integers(0, 1024, (frames, 12)).astype(np.uint16))
            for k in range(64)
        ]
        names.append(tc._write_shard(directory, shard, batch))
    header = {"format_version": tc.FORMAT_VERSION, "complete": True, "num_items": items,
              "shards": [{"name": n, "num_items": 64} for n in names], "semantic_rate": 50.0, "acoustic_rate": 50.0,
              "num_quantizers": 12, "codebook_size": 1024, "semantic_vocab_size": 500}
    atomic_write_text(directory / tc.HEADER_NAME, json.dumps(header))
    return tc.TokenCache(directory)


def run(device: str = "cpu") -> dict:
    from audiolm_lib.audio import save_audio
    from audiolm_lib.datasets.manifest import write_manifest
    from audiolm_lib.datasets.piano import NoteEvent, render_notes
    from audiolm_lib.training.token_cache import build_token_cache

    torch.set_num_threads(2)
    torch.manual_seed(0)
    random.seed(0)
    repeats = 1 if os.environ.get(QUICK_ENV) else 5
    results: dict = {"device": "cpu", "threads": 2, "note": "data pipeline runs on CPU whatever the device"}
    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        tmp = Path(tmp)
        cache = _synthetic_cache(tmp / "cache")
        picks = random.Random(0)

        def read_batch():
            for _ in range(64):
                item = cache[picks.randrange(len(cache))]
                assert item["acoustic"].shape == (12, 1000)

        seconds = median_seconds(read_batch, repeats)
        results["token_cache_read_64"] = {"median_s": seconds, "items_per_s": 64 / seconds}

        files = 4
        t = np.arange(160000) / 16000
        entries = []
        for k in range(files):
            save_audio(tmp / f"data/audio/{k}.wav", (0.3 * np.sin(2 * np.pi * (200 + 30 * k) * t))[None].astype(np.float32), 16000)
            entries.append({"id": f"f{k}", "audio": f"audio/{k}.wav", "split": "train"})
        manifest = write_manifest(tmp / "data/manifest.jsonl", entries)
        builds = iter(range(10**6))

        def build():
            build_token_cache(manifest, tmp / f"built{next(builds)}", _FrameTokenizer(), _FrameCodec(), progress=False)

        seconds = median_seconds(build, repeats)
        results["token_cache_build_10s"] = {"median_s": seconds / files, "files": files}

        rng = random.Random(0)
        notes = [NoteEvent(s / 4, s / 4 + 0.5, 48 + rng.randrange(36), 80) for s in range(40) for _ in range(4)]
        seconds = median_seconds(lambda: render_notes(notes), repeats)
        results["piano_render_10s"] = {"median_s": seconds, "realtime_factor": 10.5 / seconds}
    return results


if __name__ == "__main__":
    print(json.dumps(run()))
