import json

import pytest
import torch
from typer.testing import CliRunner

from audiolm_lib.audio import save_audio
from audiolm_lib.cli import build_app

runner = CliRunner()


class RoundingCodec:
    """Codec protocol stand-in: one level, codes are samples rounded to 1/8 steps (hop 1)."""

    sample_rate, hop_length, frame_rate, num_quantizers, codebook_size = 16000, 1, 16000.0, 1, 17

    def encode(self, wave):
        return torch.round((wave[:, :1] + 1) * 8).clamp(0, 16).long()

    def decode(self, codes):
        return codes.float() / 8 - 1


def test_eval_help_lists_both_commands():
    result = runner.invoke(build_app(), ["eval", "--help"])
    assert result.exit_code == 0, result.output
    assert "codec" in result.output and "continuation" in result.output


def test_eval_codec_writes_json_and_markdown(tmp_path, monkeypatch, sine_wave):
    import audiolm_lib.cli.eval as eval_cli

    monkeypatch.setattr(eval_cli, "_load_codec", lambda codec_dir: RoundingCodec())
    audio = save_audio(tmp_path / "tone.wav", sine_wave(0.25, freq=200.0), 16000)  # a pitch pYIN looks for
    out = tmp_path / "reports" / "codec.json"
    result = runner.invoke(build_app(), ["eval", "codec", str(tmp_path), str(audio), "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())["codec"]
    assert report["num_waves"] == 1 and report["num_quantizers"] == 1
    assert 15 < report["si_sdr"] < 40  # 1/8-step rounding of a 0.5-amplitude tone: about 22 dB
    assert out.with_suffix(".md").exists() and "| codec.si_sdr |" in result.output
    scores = report["measures_per_wave"][0]
    assert scores["file"] == str(audio) and set(report["measures"]) >= {"visqol_speech", "pesq_wb", "stoi"}
    assert scores["voiced_share_original"] > 0.9 and scores["voiced_share"] > 0.9  # a 0.5-amplitude tone
    assert scores["f0_error_cents"] < 20 and scores["voicing_decision_error"] < 0.1
    assert scores["visqol_speech"] is None  # 0.25 s: shorter than a ViSQOL patch, reported as missing
    plain = runner.invoke(build_app(), ["eval", "codec", str(tmp_path), str(audio), "--no-instruments"])
    assert plain.exit_code == 0 and "measures" not in plain.output


def test_eval_codec_reports_missing_checkpoint_cleanly(tmp_path, sine_wave):
    audio = save_audio(tmp_path / "tone.wav", sine_wave(0.1), 16000)
    result = runner.invoke(build_app(), ["eval", "codec", str(tmp_path / "no_codec"), str(audio)])
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output


def test_eval_continuation_missing_audio_is_a_clean_error(tmp_path):
    result = runner.invoke(build_app(), ["eval", "continuation", str(tmp_path / "a.wav"), str(tmp_path / "b.wav")])
    assert result.exit_code == 2 and "not found" in result.output


@pytest.mark.slow
@pytest.mark.requires("resemblyzer")
def test_eval_continuation_speaker_only(tmp_path, librivox_clips):
    out = tmp_path / "cont.json"
    prompt, continuation = str(librivox_clips["0870"][0]), str(librivox_clips["0890"][0])
    same = str(librivox_clips["0920"][0])
    result = runner.invoke(
        build_app(), ["eval", "continuation", prompt, continuation, "--same-speaker", same, "--real", continuation,
                      "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())["continuation"]
    assert report["speaker_similarity"] > 0.8 and report["same_speaker_baseline"] > 0.8 and "wer" not in report
    assert report["prompt"] == prompt
    assert report["voiced_share"] > 0.5 and report["voicing_decision_error"] == 0  # --real: the continuation itself
