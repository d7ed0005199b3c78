"""Token cache: exact round trips, resume after an interruption, corrupt audio reported, identity checks."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from audiolm_lib.audio import load_audio, save_audio
from audiolm_lib.datasets.manifest import write_manifest
from audiolm_lib.interfaces import CodecProtocol, SemanticTokenizerProtocol
from audiolm_lib.serialization import CheckpointError
from audiolm_lib.training.token_cache import TokenCache, build_token_cache, component_identity


class EnergyTokenizer:
    """Test double: 16 kHz, 50 Hz; the id of a frame is its quantised log-energy."""

    sample_rate = 16000
    frame_rate = 50.0
    vocab_size = 16

    def __init__(self):
        self.calls = 0

    def tokenize(self, wave: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        frames = wave[:, 0, : wave.shape[-1] // 320 * 320].reshape(wave.shape[0], -1, 320)
        energy_db = 10 * torch.log10(frames.pow(2).mean(-1) + 1e-8)  # [-80, 0]
        return ((energy_db + 80) / 80 * (self.vocab_size - 1)).round().clamp(0, self.vocab_size - 1).long()


class MeanCodec:
    """Test double: 24 kHz (like EnCodec, unlike the tokenizer), hop 480; residual-quantises frame mean and std."""

    sample_rate = 24000
    hop_length = 480
    frame_rate = 50.0

    def __init__(self, codebook_size: int = 32, num_quantizers: int = 3, fail_on_call: int | None = None):
        self.codebook_size = codebook_size
        self.num_quantizers = num_quantizers
        self.fail_on_call = fail_on_call
        self.calls = 0

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise KeyboardInterrupt  # simulates the user stopping the build
        frames_count = -(-wave.shape[-1] // self.hop_length)
        padded = torch.nn.functional.pad(wave[:, 0], (0, frames_count * self.hop_length - wave.shape[-1]))
        frames = padded.reshape(wave.shape[0], frames_count, self.hop_length)
        residual = frames.abs().mean(-1) * 4  # [B, F] in about [0, 4]
        codes = []
        for level in range(self.num_quantizers):
            step = 1.0 / (self.codebook_size / 4) ** (level + 1)
            code = (residual / step).floor().clamp(0, self.codebook_size - 1)
            residual = residual - code * step
            codes.append(code.long())
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.zeros(codes.shape[0], 1, codes.shape[-1] * self.hop_length)


def _make_dataset(folder, count: int = 7, corrupt: tuple[int, ...] = ()) -> Path:
    rng = np.random.default_rng(0)
    entries = []
    for k in range(count):
        seconds = 0.4 + 0.1 * k
        t = np.arange(int(seconds * 16000)) / 16000
        envelope = np.linspace(0.05, 0.8, t.size) if k % 2 else np.linspace(0.8, 0.05, t.size)
        wave = envelope * np.sin(2 * np.pi * (200 + 50 * k) * t) + 0.01 * rng.standard_normal(t.size)
        relative = f"audio/utt{k}.wav"
        if k in corrupt:
            (folder / "audio").mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(100))
        else:
            save_audio(folder / relative, wave[None].astype(np.float32), 16000)
        entries.append(
            {"id": f"utt{k}", "audio": relative, "duration": seconds, "sample_rate": 16000,
             "split": "valid" if k == 3 else "train", "speaker": f"spk{k % 2}", "text": f"sentence {k}"}
        )
    return write_manifest(folder / "manifest.jsonl", entries)


def test_doubles_satisfy_protocols():
    assert isinstance(EnergyTokenizer(), SemanticTokenizerProtocol)
    assert isinstance(MeanCodec(), CodecProtocol)


def test_items_round_trip_exactly(tmp_path):
    manifest = _make_dataset(tmp_path / "data")
    tokenizer, codec = EnergyTokenizer(), MeanCodec()
    cache = build_token_cache(manifest, tmp_path / "cache", tokenizer, codec, shard_size=3, progress=False)
    assert len(cache) == 7 and len(cache.header["shards"]) == 3
    assert (cache.semantic_rate, cache.acoustic_rate, cache.num_quantizers, cache.codebook_size, cache.semantic_vocab_size) == (
        50.0, 50.0, 3, 32, 16)
    # arrays on disk are small ints, memory-mapped
    assert np.load(tmp_path / "cache/shards/shard_00000/acoustic.npy", mmap_mode="r").dtype == np.uint16
    for k in range(7):
        item = cache[k]
        path = tmp_path / "data" / f"audio/utt{k}.wav"
        expected_semantic = tokenizer.tokenize(load_audio(path, sample_rate=16000)[None])[0]
        expected_acoustic = codec.encode(load_audio(path, sample_rate=24000)[None])[0]
        assert item["id"] == f"utt{k}"
        assert item["semantic"].dtype == torch.long and item["acoustic"].dtype == torch.long
        assert torch.equal(item["semantic"], expected_semantic)
        assert torch.equal(item["acoustic"], expected_acoustic)
        assert item["acoustic"].shape == (3, -(-int((0.4 + 0.1 * k) * 24000) // 480))
        assert (item["speaker"], item["text"], item["split"]) == (f"spk{k % 2}", f"sentence {k}", "valid" if k == 3 else "train")
        assert len(set(item["semantic"].tolist())) > 1  # the doubles really see the audio
    assert cache.lengths() == [cache[k]["acoustic"].shape[1] for k in range(7)]
    assert cache.semantic_lengths() == [cache[k]["semantic"].shape[0] for k in range(7)]
    assert cache.speakers() == [cache[k]["speaker"] for k in range(7)] == [f"spk{k % 2}" for k in range(7)]
    assert cache.indices("valid") == [3]
    assert cache[-1]["id"] == "utt6"
    with pytest.raises(IndexError):
        cache[7]
    # picklable for DataLoader workers, and still reads the same ids after unpickling
    clone = pickle.loads(pickle.dumps(cache))
    assert torch.equal(clone[5]["acoustic"], cache[5]["acoustic"])


def test_split_filter(tmp_path):
    manifest = _make_dataset(tmp_path / "data", count=5)
    cache = build_token_cache([manifest], tmp_path / "cache", EnergyTokenizer(), MeanCodec(), split="valid", progress=False)
    assert [cache[k]["id"] for k in range(len(cache))] == ["utt3"]
    with pytest.raises(ValueError, match="no manifest entries"):
        build_token_cache(manifest, tmp_path / "none", EnergyTokenizer(), MeanCodec(), split="test", progress=False)


def test_resume_after_interruption_gives_the_same_cache(tmp_path):
    manifest = _make_dataset(tmp_path / "data")
    reference = build_token_cache(manifest, tmp_path / "fresh", EnergyTokenizer(), MeanCodec(), shard_size=3, progress=False)

    with pytest.raises(KeyboardInterrupt):
        build_token_cache(manifest, tmp_path / "resumed", EnergyTokenizer(), MeanCodec(fail_on_call=5), shard_size=3, progress=False)
    assert sorted(p.name for p in (tmp_path / "resumed/shards").iterdir()) == ["shard_00000"]
    with pytest.raises(CheckpointError, match="interrupted build"):
        TokenCache(tmp_path / "resumed")

    tokenizer = EnergyTokenizer()
    resumed = build_token_cache(manifest, tmp_path / "resumed", tokenizer, MeanCodec(), shard_size=3, progress=False)
    assert tokenizer.calls == 4  # the 3 items of the finished shard were not tokenized again
    assert len(resumed) == len(reference) == 7
    for k in range(7):
        a, b = reference[k], resumed[k]
        assert a["id"] == b["id"]
        assert torch.equal(a["semantic"], b["semantic"]) and torch.equal(a["acoustic"], b["acoustic"])
    # a complete cache rebuilt with the same inputs tokenizes nothing
    again = EnergyTokenizer()
    build_token_cache(manifest, tmp_path / "resumed", again, MeanCodec(), shard_size=3, progress=False)
    assert again.calls == 0


def test_corrupt_wav_is_reported_and_skipped(tmp_path, capsys):
    manifest = _make_dataset(tmp_path / "data", count=5, corrupt=(2,))
    (tmp_path / "data/audio/utt4.wav").unlink()  # missing file
    cache = build_token_cache(manifest, tmp_path / "cache", EnergyTokenizer(), MeanCodec(), progress=True)
    assert [cache[k]["id"] for k in range(len(cache))] == ["utt0", "utt1", "utt3"]
    errors = [json.loads(line) for line in (tmp_path / "cache/errors.jsonl").read_text().splitlines()]
    assert [e["id"] for e in errors] == ["utt2", "utt4"] == [e["id"] for e in cache.errors]
    assert "cannot decode" in errors[0]["error"] and "not found" in errors[1]["error"]
    printed = capsys.readouterr().err
    assert "2 error(s)" in printed and "skipped utt2" in printed and "skipped utt4" in printed
    assert cache.header["num_errors"] == 2


def test_different_codec_is_detected(tmp_path):
    manifest = _make_dataset(tmp_path / "data", count=3)
    cache = build_token_cache(manifest, tmp_path / "cache", EnergyTokenizer(), MeanCodec(), progress=False)
    with pytest.raises(CheckpointError, match="codebook_size"):
        build_token_cache(manifest, tmp_path / "cache", EnergyTokenizer(), MeanCodec(codebook_size=64), progress=False)
    with pytest.raises(CheckpointError, match="codec"):
        cache.check_compatible(codec=MeanCodec(num_quantizers=2))
    cache.check_compatible(tokenizer=EnergyTokenizer(), codec=MeanCodec())  # the same ones pass
    # two modules of one class and shape, but different weights
    torch.manual_seed(1)
    first, second = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    assert component_identity(first)["class"] == component_identity(second)["class"]
    assert component_identity(first)["weights_sha1"] != component_identity(second)["weights_sha1"]


def test_missing_or_incomplete_cache_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        TokenCache(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no header.json"):
        TokenCache(tmp_path / "empty")
    manifest = _make_dataset(tmp_path / "data", count=2)
    build_token_cache(manifest, tmp_path / "cache", EnergyTokenizer(), MeanCodec(), progress=False)
    (tmp_path / "cache/header.json").write_text("{truncated")
    with pytest.raises(CheckpointError, match="corrupt"):
        TokenCache(tmp_path / "cache")
    (tmp_path / "other").mkdir()
    (tmp_path / "other/precious.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="not a token cache"):
        build_token_cache(manifest, tmp_path / "other", EnergyTokenizer(), MeanCodec(), progress=False)


def test_files_shorter_than_one_frame_are_reported_not_cached(tmp_path):
    manifest = _make_dataset(tmp_path / "data", count=3)
    entries = json.loads("[" + ",".join(manifest.read_text().splitlines()) + "]")
    for name, samples in (("ten_ms", 160), ("one_sample", 1), ("one_frame", 320)):
        save_audio(tmp_path / "data" / "audio" / f"{name}.wav", np.full((1, samples), 0.1, np.float32), 16000)
        entries.append({"id": name, "audio": f"audio/{name}.wav", "split": "train"})
    write_manifest(manifest, entries)
    cache = build_token_cache(manifest, tmp_path / "cache", EnergyTokenizer(), MeanCodec())
    assert [cache[k]["id"] for k in range(len(cache))] == ["utt0", "utt1", "utt2", "one_frame"]
    errors = {e["id"]: e["error"] for e in cache.errors}
    assert sorted(errors) == ["one_sample", "ten_ms"]
    assert "0.010 s long; at least 0.020 s is needed" in errors["ten_ms"]
    with (tmp_path / "cache" / "errors.jsonl").open("a") as handle:
        handle.write('{"id": "x", "err')  # a build killed while logging
    with pytest.warns(UserWarning, match=r"errors\.jsonl: skipping torn last line 3"):
        assert sorted(e["id"] for e in TokenCache(tmp_path / "cache").errors) == ["one_sample", "ten_ms"]
