import json

import numpy as np
import pytest
import torch

from audiolm_lib.eval.report import markdown_report, write_report


def _results():
    return {
        "codec": {
            "si_sdr": 12.3456789,
            "mel_distance": np.float32(0.5),
            "si_sdr_per_wave": [12.0, 12.7],
            "codebook_usage": [
                {"level": 0, "perplexity": 900.5, "fraction_used": 0.95},
                {"level": 1, "perplexity": 10.0, "fraction_used": 0.01},
            ],
        },
        "continuation": {"wer": torch.tensor(0.25), "different_speaker_baseline": None, "hypothesis": "a | b"},
    }


def test_write_report_round_trip(tmp_path):
    json_path, md_path = write_report(_results(), tmp_path / "out", name="run1")
    assert json_path == tmp_path / "out" / "run1.json" and md_path.suffix == ".md"
    loaded = json.loads(json_path.read_text())
    assert loaded["codec"]["si_sdr"] == 12.3456789
    assert loaded["codec"]["mel_distance"] == 0.5
    assert loaded["codec"]["codebook_usage"][1]["fraction_used"] == 0.01
    assert loaded["continuation"]["wer"] == pytest.approx(0.25)
    assert loaded["continuation"]["different_speaker_baseline"] is None
    assert md_path.read_text() == markdown_report(_results())


def test_markdown_tables():
    text = markdown_report(_results(), title="Run")
    lines = text.splitlines()
    assert lines[0] == "# Run"
    assert "| codec.si_sdr | 12.35 |" in lines
    assert "| codec.mel_distance | 0.5 |" in lines
    assert "| continuation.different_speaker_baseline | – |" in lines
    assert "| continuation.hypothesis | a \\| b |" in lines  # pipes escaped
    assert not any("si_sdr_per_wave" in line for line in lines)  # raw lists stay in the JSON
    assert "## codec.codebook_usage" in lines
    assert "| level | perplexity | fraction_used |" in lines
    assert "| 1 | 10 | 0.01 |" in lines


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="must be a dict"):
        write_report([1, 2], tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        write_report({"a": 1}, tmp_path / "file")
