"""Piano builder: real music21 scores rendered with the pretty_midi soundfont, deterministic and resumable."""
from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

from audiolm_lib.datasets import piano
from audiolm_lib.datasets.manifest import read_manifest
from audiolm_lib.datasets.piano import (NoteEvent, build_piano_dataset, list_pieces, piece_split_for, render_notes,
                                        soundfont_path, split_clips)
from audiolm_lib.datasets.piano_variants import Variant, VariantSpec, parse_range, parse_soundfonts
from audiolm_lib.datasets.splits import VALIDATION_SOUNDFONT, piece_split

fluid_installed = pytest.mark.requires(paths=["/usr/share/sounds/sf2/FluidR3_GM.sf2"])  # apt fluid-soundfont-gm


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
        assert entry["split"] == piece_split_for(entry["piece"], 0.5) != "test"
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
    with pytest.raises(ValueError, match="splits"):
        build_piano_dataset(tmp_path, minutes=1, splits=("everything",), progress=False)
    with pytest.raises(ValueError, match="held out"):
        build_piano_dataset(tmp_path, minutes=1, variants=VariantSpec(soundfonts=("sf_GMbank",)), progress=False)
    # the validation-only piano plays validation pieces only (refused before any soundfont is looked for)
    with pytest.raises(ValueError, match="validation pieces only"):
        build_piano_dataset(tmp_path, minutes=1, variants=VariantSpec(soundfonts=(VALIDATION_SOUNDFONT,)), progress=False)
    with pytest.raises(ValueError, match="validation pieces only"):
        build_piano_dataset(tmp_path, minutes=1, variants=VariantSpec(soundfonts=("TimGM6mb", VALIDATION_SOUNDFONT)),
                            splits=("valid", "test"), progress=False)


def test_variant_apply_changes_tempo_pitch_velocity():
    notes = [NoteEvent(0.0, 1.0, 60, 80), NoteEvent(2.0, 3.0, 126, 100), NoteEvent(9.0, 10.0, 64, 80)]
    played = Variant(tempo=2.0, velocity=1.5, transpose=2).apply(notes, max_seconds=4.0)
    # twice as fast, two semitones up (key 128 would be out of range: dropped), louder (capped at 127), cut at 4 s
    assert played == [NoteEvent(0.0, 0.5, 62, 120)]
    assert Variant().apply(notes) == notes and Variant().suffix() == ""
    name = "bach_bwv66.6" + Variant(0.93, 1.1, -2, "FluidR3_GM").suffix()
    assert name == "bach_bwv66.6@t0.93@v1.10@tr-2@fluid" and piece_split(name) == piece_split("bach_bwv66.6")
    unseen = "bach_bwv66.6" + Variant(soundfont=VALIDATION_SOUNDFONT).suffix()
    assert unseen == "bach_bwv66.6@msgen" and piece_split(unseen) == piece_split("bach_bwv66.6")


def test_variant_spec_draws_distinct_reproducible_variants_and_refuses_the_held_out_soundfont():
    spec = VariantSpec(count=4, tempo=(0.85, 1.15), velocity=(0.7, 1.2), transpose=(-3, 3),
                       soundfonts=("TimGM6mb", "FluidR3_GM"))
    drawn = spec.variants("some_piece", seed=0)
    assert drawn == spec.variants("some_piece", seed=0) != spec.variants("other_piece", seed=0)
    assert drawn[0] == Variant() and len(set(drawn)) == 4
    assert {v.soundfont for v in drawn} == {"TimGM6mb", "FluidR3_GM"}
    for v in drawn[1:]:
        assert 0.85 <= v.tempo <= 1.15 and 0.7 <= v.velocity <= 1.2 and -3 <= v.transpose <= 3
    with pytest.raises(ValueError, match="held out"):
        VariantSpec(soundfonts=("sf_GMbank",))
    with pytest.raises(ValueError, match="unknown soundfont"):
        VariantSpec(soundfonts=("nope",))
    with pytest.raises(ValueError, match="tempo range"):
        VariantSpec(tempo=(1.2, 0.8))
    assert parse_range("0.85,1.15") == (0.85, 1.15) and parse_range("-3,3", int) == (-3, 3) and parse_range("1") == (1.0, 1.0)
    assert parse_soundfonts("TimGM6mb, FluidR3_GM") == ("TimGM6mb", "FluidR3_GM")


@fluid_installed
def test_soundfonts_by_name_sound_different():
    assert soundfont_path() == soundfont_path("TimGM6mb") and soundfont_path("FluidR3_GM").name == "FluidR3_GM.sf2"
    notes = [NoteEvent(0.0, 0.5, 60, 90), NoteEvent(0.5, 1.0, 64, 90)]
    tim, fluid = render_notes(notes, 16000), render_notes(notes, 16000, "FluidR3_GM")
    assert tim.shape == fluid.shape and np.abs(tim - fluid).mean() > 0.01
    with pytest.raises(ValueError, match="unknown soundfont"):
        soundfont_path("nope")


def test_piece_split_for_keeps_held_out_pieces_out():
    names = [name for name, _ in list_pieces(seed=0, max_score_mb=None)]
    policy = [piece_split_for(n) for n in names]
    assert policy == [piece_split(n) for n in names] and {"train", "valid", "test"} == set(policy)
    custom = [piece_split_for(n, 0.3) for n in names]
    assert [c == "test" for c in custom] == [p == "test" for p in policy]  # the same pieces held out
    share = custom.count("valid") / (len(names) - policy.count("test"))
    assert 0.25 < share < 0.35


@fluid_installed
def test_build_variants_split_by_piece_skip_test_and_resume(tmp_path):
    spec = VariantSpec(count=3, tempo=(0.85, 1.15), velocity=(0.7, 1.2), transpose=(-3, 3),
                       soundfonts=("TimGM6mb", "FluidR3_GM"))
    kwargs = dict(minutes=10.0, clip_seconds=2.0, max_seconds_per_piece=2.0, max_pieces=2, max_score_mb=0.05,
                  variants=spec, workers=1, progress=False)
    entries = read_manifest(build_piano_dataset(tmp_path / "a", **kwargs))
    renderings = {e["rendering"] for e in entries}
    assert len({e["piece"] for e in entries}) == 2 and len(renderings) == 6
    assert all(e["rendering"].split("@")[0] == e["piece"] and e["split"] == piece_split(e["piece"]) != "test"
               for e in entries)
    by_piece: dict[str, list] = {}
    for e in entries:
        by_piece.setdefault(e["piece"], []).append(sf.read(e["audio"], dtype="float32")[0])
    for waves in by_piece.values():  # the variants of a piece are different audio
        assert all(np.abs(a[:16000] - b[:16000]).mean() > 0.01 for k, a in enumerate(waves) for b in waves[k + 1:])
    assert {e["soundfont"] for e in entries} == {"TimGM6mb", "FluidR3_GM"}

    # rebuild: nothing parsed or rendered again
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "a/audio").iterdir()}
    assert read_manifest(build_piano_dataset(tmp_path / "a", **kwargs)) == entries
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "a/audio").iterdir()} == mtimes

    # held-out pieces only when asked for, and then only they
    held = read_manifest(build_piano_dataset(tmp_path / "t", splits=("test",), **{**kwargs, "max_pieces": 1}))
    assert {e["split"] for e in held} == {"test"} and not {e["piece"] for e in held} & {e["piece"] for e in entries}


def test_slow_scores_are_skipped_after_the_parse_timeout(tmp_path, monkeypatch):
    calls = []

    def slow_parse(path, max_seconds=None, seed=0):
        calls.append(path)
        if len(calls) == 1:
            time.sleep(30)
        return [NoteEvent(0.0, 1.0, 60, 80)]

    monkeypatch.setattr(piano, "score_notes", slow_parse)
    start = time.monotonic()
    kwargs = dict(minutes=10.0, clip_seconds=1.0, max_seconds_per_piece=1.0, max_pieces=2, parse_timeout=0.5,
                  workers=1, progress=False)
    entries = read_manifest(build_piano_dataset(tmp_path, **kwargs))
    assert time.monotonic() - start < 10 and len(calls) == 2
    assert len({e["piece"] for e in entries}) == 1  # the slow one skipped, the next rendered
    build_piano_dataset(tmp_path, **kwargs)  # the timeout is remembered: not parsed again
    assert len(calls) == 2
    build_piano_dataset(tmp_path, **{**kwargs, "parse_timeout": 5.0})  # a longer limit tries it again
    assert len(calls) == 3
