"""Held-out sets follow the split policy, are deterministic, and are cached."""
import json

import pytest
import soundfile as sf

from audiolm_lib.datasets.splits import HELDOUT_SPEAKER_IDENTITIES, is_evaluation_only, piece_split
from audiolm_lib.datasets.heldout import HeldoutSpec, build_heldout, heldout_pieces, heldout_voices, soundfont_file

TINY = HeldoutSpec(librivox_clips=1, asterisk_clips=1, asterisk_seconds=2.0, tts_identities=1, tts_sentences=1,
                   pieces=1, piece_seconds=3.0)

pytestmark = [
    pytest.mark.requires("music21", "tinysoundfont", "pretty_midi", programs=["espeak-ng"],
                         paths=["/usr/share/pocketsphinx/test/data/librivox", "/usr/share/asterisk/sounds",
                                "/usr/share/sounds/sf2/sf_GMbank.sf2"]),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heldout")
    return folder, build_heldout(TINY, folder, progress=False)


def test_tiny_set_follows_the_split_policy(built):
    _, entries = built
    by_set = {}
    for entry in entries:
        by_set.setdefault(entry["set"], []).append(entry)
    assert set(by_set) == {"librivox", "asterisk", "tts", "piano-TimGM6mb", "piano-sf_GMbank"}
    assert all(is_evaluation_only(source) for e in by_set["librivox"] + by_set["asterisk"] for source in e["sources"])
    assert by_set["librivox"][0]["transcript"] and by_set["asterisk"][0]["transcript"] is None
    assert all(e["speaker"] in HELDOUT_SPEAKER_IDENTITIES for e in by_set["tts"])
    pieces = {e["piece"] for e in entries if e["domain"] == "piano"}
    assert len(pieces) == 1 and all(piece_split(p) == "test" for p in pieces)
    for entry in entries:
        wave, rate = sf.read(entry["audio"])
        assert rate == 16000 and entry["seconds"] == pytest.approx(len(wave) / rate, abs=1e-3)
        assert wave.std() > 0.01, entry["id"]
    assert by_set["asterisk"][0]["seconds"] >= 2.0
    assert [e["seconds"] for e in by_set["piano-TimGM6mb"]] == [3.0]


def test_two_soundfonts_play_the_same_notes_differently(built):
    _, entries = built
    waves = {e["soundfont"]: sf.read(e["audio"])[0] for e in entries if e["domain"] == "piano"}
    assert len(waves["TimGM6mb"]) == len(waves["sf_GMbank"])
    assert abs(float(waves["TimGM6mb"] @ waves["sf_GMbank"])) < 0.99 * float(waves["TimGM6mb"] @ waves["TimGM6mb"])


def test_rebuild_is_identical_and_cached(built, tmp_path):
    folder, entries = built
    again = build_heldout(TINY, tmp_path, progress=False)
    assert [e["id"] for e in again] == [e["id"] for e in entries]
    for first, second in zip(entries, again):
        assert sf.read(first["audio"])[0].tolist() == sf.read(second["audio"])[0].tolist(), first["id"]
    manifest = next(folder.glob("*/manifest.jsonl"))
    stamp = manifest.stat().st_mtime_ns
    assert [e["id"] for e in build_heldout(TINY, folder, progress=False)] == [e["id"] for e in entries]
    assert manifest.stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert json.loads((manifest.parent / "spec.json").read_text())["pieces"] == 1


def test_policy_helpers():
    assert all(piece_split(name) == "test" for name, _ in heldout_pieces()[:20])
    from audiolm_lib.datasets.splits import speaker_identity

    identities = [speaker_identity(v.engine, v.voice) for v in heldout_voices()]
    assert identities and len(set(identities)) == len(identities)  # one voice per held-out identity
    assert set(identities) <= HELDOUT_SPEAKER_IDENTITIES
    with pytest.raises(ValueError, match="unknown soundfont 'no_such_font'; known: TimGM6mb"):
        soundfont_file("no_such_font")  # one soundfont lookup for the held-out and the training sets
