"""Narrowband copies of wideband training voices: nothing above the band, only wideband train items copied, each copy
a new identity, resume keeps files, copies of copies and bad bands are refused in one line."""
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from audiolm_lib.datasets.channel_variants import build_narrowband_variants, check_band
from audiolm_lib.datasets.manifest import read_manifest, write_manifest

RATE = 16000


def _dataset(folder):
    """Train: a and b wideband (a 6 kHz partial), n narrowband (nothing above 4 kHz); valid: a and z wideband."""
    (folder / "audio").mkdir(parents=True)
    t = np.arange(RATE) / RATE
    wide = 0.3 * np.sin(2 * np.pi * 200 * t) + 0.2 * np.sin(2 * np.pi * 6000 * t)
    narrow = 0.3 * np.sin(2 * np.pi * 200 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)
    entries = []
    for index, (split, speaker, wave) in enumerate([("train", "a", wide), ("train", "b", wide), ("train", "n", narrow),
                                                    ("valid", "a", wide), ("valid", "z", wide)]):
        sf.write(folder / "audio" / f"c{index}.wav", wave.astype(np.float32), RATE, subtype="FLOAT")
        entries.append({"id": f"c{index}", "audio": f"audio/c{index}.wav", "duration": 1.0, "sample_rate": RATE,
                        "split": split, "speaker": speaker, "identity": speaker})
    write_manifest(folder / "manifest.jsonl", entries)
    return folder


def test_wideband_train_items_are_copied_narrowband_as_new_identities(tmp_path):
    manifest = build_narrowband_variants(_dataset(tmp_path / "src"), tmp_path / "out", 4000, progress=False)
    entries = read_manifest(manifest)
    assert {e["channel_of"] for e in entries} == {"c0", "c1"}  # not the narrowband c2, never the validation clips
    assert {e["identity"] for e in entries} == {"a@nb4000", "b@nb4000"} and {e["split"] for e in entries} == {"train"}
    for entry in entries:
        wave, rate = sf.read(entry["audio"], dtype="float32")
        assert rate == RATE and len(wave) == RATE and entry["channel_band_hz"] == 4000.0
        spectrum = np.abs(np.fft.rfft(wave))  # 1 Hz bins: the 200 Hz partial kept, the 6 kHz one gone
        assert spectrum[200] > 0.9 * 0.3 * RATE / 2 and spectrum[6000] < 1e-3 * 0.2 * RATE / 2
        assert (spectrum[4200:] ** 2).sum() < 1e-5 * (spectrum ** 2).sum()  # (a 16-bit file's noise floor only)


def test_keep_speaker_copies_stay_the_speaker_of_their_original_as_a_new_identity(tmp_path):
    manifest = build_narrowband_variants(_dataset(tmp_path / "src"), tmp_path / "out", 4000, progress=False,
                                         keep_speaker=True)
    entries = read_manifest(manifest)
    assert {(e["speaker"], e["identity"]) for e in entries} == {("a", "a@nb4000"), ("b", "b@nb4000")}
    assert all(e["id"].endswith("@nb4000") for e in entries)


def test_resume_keeps_written_files_and_copies_of_copies_are_refused(tmp_path):
    source, out = _dataset(tmp_path / "src"), tmp_path / "out"
    build_narrowband_variants(source, out, progress=False)
    marker = out / "audio" / "c0@nb4000.wav"
    before = marker.stat().st_mtime_ns
    build_narrowband_variants(source, out, progress=False)
    assert marker.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="already holds narrowband"):
        build_narrowband_variants(out, tmp_path / "again", progress=False)


@pytest.mark.parametrize("band", [0, 500, 8000, float("nan")])
def test_bad_bands_are_refused(band):
    with pytest.raises(ValueError, match="band"):
        check_band(band)


def test_cli_builds_the_copies_and_reports_bad_input_in_one_line(tmp_path):
    from audiolm_lib.cli import build_app

    source = _dataset(tmp_path / "src")
    runner = CliRunner()
    result = runner.invoke(build_app(), ["data", "narrowband", str(tmp_path / "out"), "--source", str(source)])
    assert result.exit_code == 0, result.output
    assert "2 files" in result.output
    valid = runner.invoke(build_app(), ["data", "narrowband", str(tmp_path / "valid"), "--source", str(source),
                                        "--split", "valid", "--band", "3400"])
    assert valid.exit_code == 0, valid.output
    assert {e["identity"] for e in read_manifest(tmp_path / "valid")} == {"a@nb3400", "z@nb3400"}
    for args in (["--band", "9000"], ["--split", "test"]):
        bad = runner.invoke(build_app(), ["data", "narrowband", str(tmp_path / "bad"), "--source", str(source), *args])
        assert bad.exit_code == 2 and "Traceback" not in bad.output
