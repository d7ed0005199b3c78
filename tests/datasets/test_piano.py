"""Piano builder: real music21 scores rendered with the pretty_midi soundfont, deterministic and resumable."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from audiolm_lib.datasets.manifest import read_manifest, stable_split
from audiolm_lib.datasets.piano import NoteEvent, build_piano_dataset, list_pieces, render_notes, split_clips


def test_render_a4_sounds_at_440_hz():
    wave = render_notes([NoteEvent(0.0, 1.0, 69, 100)], sample_rate=16000)
    assert wave.dtype == np.float32 and wave.shape == (32000,)  # 1 s note + 1 s release
    assert abs(np.abs(wave).max() - 0.9) < 1e-4
    spectrum = np.abs(np.fft.rfft(wave[:16000] * np.hanning(16000)))
    assert abs(np.argmax(spectrum) - 440) <= 3  # 1 Hz bins


def test_split_clips_drops_short_tail_and_silence():
    wave = np.concatenate([np.full(100, 0.5), np.zeros(100), np.full(40, 0.5)]).astype(np.float32)
    clips = split_clips(wave, 100)
    assert len(clips) == 1 and clips[0][0] == 0.5


def test_piece_order_interleaves_composers():
    pieces = list_pieces(seed=0)
    assert len(pieces) > 500
    assert pieces == list_pieces(seed=0) and pieces != list_pieces(seed=1)
    names = [name for name, _ in list_pieces(seed=0, max_score_mb=None)]
    assert len(set(names)) == len(names)  # ids of clips derive from these
    first_folders = {name.split("_")[0] for name, _ in pieces[:15]}
    assert len(first_folders) >= 10


@pytest.mark.slow
def test_build_small_piano_set(tmp_path):
    kwargs = dict(minutes=1.0, clip_seconds=2.0, seed=0, valid_fraction=0.5, max_seconds_per_piece=4.0, max_pieces=3, max_score_mb=0.1, progress=False)
    manifest = build_piano_dataset(tmp_path / "a", workers=1, **kwargs)
    entries = read_manifest(manifest)
    pieces = sorted({e["piece"] for e in entries})
    assert 2 <= len(pieces) <= 3 and len(entries) >= 4
    loudness = []
    for entry in entries:
        wave, rate = sf.read(entry["audio"], dtype="float32")
        assert rate == 16000 == entry["sample_rate"] and wave.ndim == 1
        assert abs(len(wave) / rate - entry["duration"]) < 1e-3 and 1.0 <= entry["duration"] <= 2.0
        assert np.sqrt(np.mean(wave**2)) > 0.01  # not silent
        loudness.append(np.sqrt(np.mean(wave**2)))
        assert entry["split"] == stable_split(entry["piece"], 0.5)
        assert entry["audio"].startswith(str((tmp_path / "a" / "audio").resolve()))
    assert np.mean(loudness) > 0.05
    # a whole piece lands in one split
    assert all(len({e["split"] for e in entries if e["piece"] == p}) == 1 for p in pieces)

    # same arguments elsewhere, in 2 worker processes -> the same bytes; again in place -> nothing re-rendered
    manifest_b = build_piano_dataset(tmp_path / "b", workers=2, **kwargs)
    assert manifest_b.read_text() == manifest.read_text()
    for entry in entries:
        relative = entry["audio"].split("/a/", 1)[1]
        assert (tmp_path / "b" / relative).read_bytes() == (tmp_path / "a" / relative).read_bytes()
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "a/audio").iterdir()}
    build_piano_dataset(tmp_path / "a", workers=1, **kwargs)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "a/audio").iterdir()} == mtimes


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="minutes"):
        build_piano_dataset(tmp_path, minutes=0, progress=False)
    with pytest.raises(ValueError, match="valid_fraction"):
        build_piano_dataset(tmp_path, minutes=1, valid_fraction=1.5, progress=False)
