"""Recorded voices: the split policy by voice folder, G.722 decoding, clip preparation and a tiny build."""
from __future__ import annotations

import array
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from audiolm_lib.cli import build_app
from audiolm_lib.datasets.manifest import read_manifest
from audiolm_lib.datasets.recorded import (
    SOURCES,
    RecordedSource,
    build_recorded_dataset,
    list_clips,
    prepare_clip,
    read_recording,
    resolve_sources,
)
from audiolm_lib.datasets.splits import (
    ASTERISK_SOUNDS,
    RECORDED_VALID_IDENTITIES,
    asterisk_voice,
    is_evaluation_only,
    recorded_split,
)

JUNE = Path(ASTERISK_SOUNDS) / "fr_CA_f_June"
needs_g722 = pytest.mark.requires("G722")


def voiced(seconds: float, rate: int = 16000, f0: float = 150.0, level: float = 0.3) -> np.ndarray:
    """A vowel-like harmonic tone with a syllable-rate envelope: float32 [T]."""
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    return (level * wave * envelope / np.abs(wave).max()).astype(np.float32)


def write_g722(path: Path, wave: np.ndarray) -> Path:
    import G722

    pcm = array.array("h", (np.clip(wave, -1, 1) * 32767).astype(np.int16).tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(G722.G722(16000, 64000).encode(pcm))
    return path


def fake_tree(tmp_path: Path) -> tuple[RecordedSource, RecordedSource, Path]:
    """A klettres-like root (de: a validation reader, fr) and an Asterisk-like tree (June + Allison)."""
    klettres = tmp_path / "klettres"
    for language, f0 in (("de", 120.0), ("fr", 220.0)):
        for k in range(4):
            path = klettres / language / "alpha" / f"{k}.ogg"
            path.parent.mkdir(parents=True, exist_ok=True)
            stereo = np.stack([voiced(1.5, 44100, f0 + 10 * k)] * 2, axis=1)
            sf.write(str(path), stereo, 44100)
    sounds = tmp_path / "sounds"
    for k in range(6):
        write_g722(sounds / "fr_CA_f_June" / f"prompt{k}.g722", voiced(2.0, f0=200.0 + 5 * k))
    write_g722(sounds / "fr_CA_f_June" / "short.g722", voiced(0.1))  # under MIN_CLIP_SECONDS
    write_g722(sounds / "fr_CA_f_June" / "quiet.g722", voiced(2.0, level=0.001))  # near-silent
    write_g722(sounds / "fr_CA_f_June" / "silence" / "1.g722", np.zeros(16000, np.float32))
    (sounds / "en_US_f_Allison").mkdir()
    sf.write(str(sounds / "en_US_f_Allison" / "hello.wav"), voiced(2.0, 8000), 8000)
    return (RecordedSource("klettres-test", str(klettres), "klettres"),
            RecordedSource("june-test", str(sounds / "fr_CA_f_June"), "asterisk", "fr", tree=str(sounds)), sounds)


def test_asterisk_policy_goes_by_voice_folder(tmp_path):
    for folder in ("en_US_f_Allison", "es_MX_f_Allison", "en", "en_GB_f_Allison", "xx_unknown"):
        path = f"{ASTERISK_SOUNDS}/{folder}/digits/1.wav"
        assert asterisk_voice(path) == (folder, None) and is_evaluation_only(path), folder
    for folder, identity in (("fr_CA_f_June", "asterisk:june"), ("it_IT_m_Carlo", "asterisk:carlo"),
                             ("ru_RU_f_IvrvoiceRU", "asterisk:ivrvoice-ru"), ("es", "asterisk:es-co")):
        path = f"{ASTERISK_SOUNDS}/{folder}/activated.g722"
        assert asterisk_voice(path) == (folder, identity) and not is_evaluation_only(path), folder
    assert is_evaluation_only("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01.wav")
    assert asterisk_voice("/usr/share/klettres/fr/alpha/a.ogg") == (None, None)
    # a symlink is judged by the folder it points to: es -> es_MX_f_Allison (asterisk-core-sounds-es) is refused
    sounds = tmp_path / "sounds"
    (sounds / "es_MX_f_Allison").mkdir(parents=True)
    (sounds / "es").symlink_to("es_MX_f_Allison")
    assert asterisk_voice(str(sounds / "es" / "1.gsm"), str(sounds)) == ("es_MX_f_Allison", None)


@needs_g722
def test_sources_in_allison_folders_are_refused(tmp_path):
    _, _, sounds = fake_tree(tmp_path)
    allison = RecordedSource("allison", str(sounds / "en_US_f_Allison"), "asterisk", "en", tree=str(sounds))
    with pytest.raises(ValueError, match="evaluation-only"):
        list_clips(allison)
    with pytest.raises(ValueError, match="evaluation-only"):
        build_recorded_dataset(tmp_path / "out", sources=[allison], progress=False)
    if Path(ASTERISK_SOUNDS, "en_US_f_Allison").is_dir():  # the installed English evaluation voice too
        with pytest.raises(ValueError, match="evaluation-only"):
            list_clips(RecordedSource("en", f"{ASTERISK_SOUNDS}/en_US_f_Allison", "asterisk", "en"))


def test_recorded_split_holds_out_whole_identities():
    assert all(recorded_split(identity, f"clip{k}") == "valid" for identity in RECORDED_VALID_IDENTITIES
               for k in range(50))
    splits = [recorded_split("asterisk:june", f"clip{k}", 0.2) for k in range(400)]
    assert 40 < splits.count("valid") < 120 and "test" not in splits
    assert splits == [recorded_split("asterisk:june", f"clip{k}", 0.2) for k in range(400)]  # stable
    with pytest.raises(ValueError):
        recorded_split("asterisk:june", "x", 1.0)


@needs_g722
def test_g722_round_trip_and_clip_preparation(tmp_path):
    wave = voiced(1.0)
    decoded, rate = read_recording(write_g722(tmp_path / "a.g722", wave))
    assert rate == 16000 and decoded.dtype == np.float32 and len(decoded) == len(wave)
    delay = 21  # the G.722 QMF filter delay, in samples
    assert np.corrcoef(wave[:-delay], decoded[delay:])[0, 1] > 0.98
    prepared = prepare_clip(np.concatenate([np.zeros(8000, np.float32), decoded]), 16000)
    assert abs(np.abs(prepared).max() - 0.9) < 1e-3 and len(prepared) < len(decoded) + 8000 - 6000  # lead trimmed
    assert prepare_clip(decoded * 0.001, 16000) is None  # near-silent
    assert prepare_clip(decoded[:2000], 16000) is None  # too short
    assert len(prepare_clip(voiced(1.0, 8000), 8000)) == pytest.approx(16000, abs=1700)  # resampled to 16 kHz


@needs_g722
@pytest.mark.requires(paths=[str(JUNE / "activated.g722")])
def test_installed_g722_prompt_decodes_to_speech_like_audio():
    path = JUNE / "activated.g722"
    wave, rate = read_recording(path)
    assert rate == 16000 and len(wave) == 2 * path.stat().st_size  # 64 kbit/s: 4 bits per sample
    assert 0.3 < len(wave) / rate < 10
    rms = float(np.sqrt(np.mean(wave**2)))
    assert 0.01 < rms < 0.5 and np.abs(wave).max() <= 1.0
    spectrum = np.abs(np.fft.rfft(wave)) ** 2
    frequencies = np.fft.rfftfreq(len(wave), 1 / rate)
    speech_band = spectrum[(frequencies > 80) & (frequencies < 4000)].sum()
    assert speech_band > 0.8 * spectrum.sum()  # speech energy, not noise spread to 8 kHz
    frames = wave[: len(wave) // 320 * 320].reshape(-1, 320)
    energies = np.sqrt((frames**2).mean(axis=1))
    assert energies.max() > 10 * np.percentile(energies, 10)  # syllables and pauses, not a steady tone


@needs_g722
def test_tiny_build_end_to_end(tmp_path):
    klettres, june, _ = fake_tree(tmp_path)
    out = tmp_path / "out"
    manifest = build_recorded_dataset(out, sources=[klettres, june], valid_fraction=0.3, utterance_seconds=4.0,
                                      progress=False)
    entries = read_manifest(manifest)
    fields = {"id", "audio", "duration", "sample_rate", "split", "speaker", "identity", "engine", "language",
              "source", "original_rate", "parts"}
    assert all(fields <= set(e) for e in entries)
    by_identity = {e["identity"] for e in entries}
    assert by_identity == {"klettres:de", "klettres:fr", "asterisk:june"}
    assert {e["split"] for e in entries if e["identity"] == "klettres:de"} == {"valid"}  # held out whole
    assert {e["original_rate"] for e in entries if e["identity"] != "asterisk:june"} == {44100}
    parts = [Path(p).name for e in entries for p in e["parts"]]
    assert not {"short.g722", "quiet.g722", "1.g722", "hello.wav"} & set(parts)  # dropped or never read
    assert sorted(p for p in parts if p.startswith("prompt")) == [f"prompt{k}.g722" for k in range(6)]
    for entry in entries:
        wave, rate = sf.read(entry["audio"])
        assert rate == 16000 and wave.ndim == 1 and entry["duration"] == pytest.approx(len(wave) / 16000, abs=1e-3)
        assert 0.85 < np.abs(wave).max() < 0.92
        assert len({Path(p).parent.parent for p in entry["parts"]}) == 1  # one voice per utterance
    # clips are joined to at least 4 s; only each (identity, split)'s last utterance may be shorter
    groups: dict = {}
    for entry in entries:
        groups.setdefault((entry["identity"], entry["split"]), []).append(entry["duration"])
    assert all(d >= 4.0 for durations in groups.values() for d in durations[:-1])
    assert any(len(e["parts"]) > 1 for e in entries)
    # the same build again gives the same manifest; a cap on minutes gives a prefix of turns
    assert read_manifest(build_recorded_dataset(out, sources=[klettres, june], valid_fraction=0.3,
                                                utterance_seconds=4.0, progress=False)) == entries
    small = read_manifest(build_recorded_dataset(tmp_path / "small", minutes=0.1, sources=[klettres, june],
                                                 valid_fraction=0.3, utterance_seconds=4.0, progress=False))
    assert 6.0 <= sum(e["duration"] for e in small) < sum(e["duration"] for e in entries)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "manifest.jsonl").write_text(json.dumps({"id": "a", "audio": "a.wav"}) + "\n")
    with pytest.raises(ValueError, match="another dataset"):
        build_recorded_dataset(tmp_path / "other", sources=[june], progress=False)


def test_unknown_sources_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown recorded source"):
        resolve_sources(["asterisk-core-sounds-en-wav"])
    result = CliRunner().invoke(build_app(), ["data", "recorded", str(tmp_path / "o"),
                                              "--sources", "pocketsphinx-testdata"])
    assert result.exit_code == 2 and "unknown recorded source" in result.output and "Traceback" not in result.output


@needs_g722
@pytest.mark.requires(paths=[str(JUNE)])
def test_cli_builds_from_an_installed_voice(tmp_path):
    out = tmp_path / "rec"
    result = CliRunner().invoke(build_app(), ["data", "recorded", str(out), "--minutes", "0.3", "--sources",
                                              "asterisk-core-sounds-fr-g722", "--utterance-seconds", "6"])
    assert result.exit_code == 0, result.output
    entries = read_manifest(out)
    assert {e["identity"] for e in entries} == {"asterisk:june"} and "1 speaker identities" in result.output
    assert 18 <= sum(e["duration"] for e in entries) < 60
    assert not any(is_evaluation_only(p) for e in entries for p in e["parts"])


@pytest.mark.requires(paths=[source.root for source in SOURCES])
def test_installed_sources_never_reach_an_evaluation_voice():
    for source in SOURCES:
        clips = list_clips(source)
        assert clips, source.name
        assert not any(is_evaluation_only(str(c.path)) or "allison" in str(c.path.resolve()).lower() for c in clips)
        assert all(c.split == "valid" for c in clips if c.identity in RECORDED_VALID_IDENTITIES)
