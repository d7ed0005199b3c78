"""``audiolm continue --stream`` and ``-o -`` through the real typer app, on tiny random models."""
import io
import math

import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from audiolm_lib.audio import save_audio
from audiolm_lib.cli import build_app
from audiolm_lib.wav_stream import StreamingWavWriter
from tiny_pipeline import tiny_parallel_audiolm

RATE = 16000
runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_parallel_audiolm().save_pretrained(tmp_path_factory.mktemp("stream_model"))


@pytest.fixture
def prompt(tmp_path):
    t = torch.arange(int(0.8 * 22050)) / 22050
    return save_audio(tmp_path / "prompt.wav", 0.3 * torch.sin(2 * math.pi * 330 * t)[None], 22050)


def invoke(*args):
    return runner.invoke(build_app(), [str(a) for a in args])


def test_stream_writes_a_wav_that_is_valid_after_every_chunk(model_dir, prompt, tmp_path, monkeypatch):
    seen = []
    original = StreamingWavWriter.write

    def checked_write(self, samples):
        original(self, samples)
        seen.append((sf.info(self.temp_path).frames, self.frames))  # the file on disk, mid-stream

    monkeypatch.setattr(StreamingWavWriter, "write", checked_write)
    out = tmp_path / "streamed.wav"
    result = invoke("continue", model_dir, prompt, "-o", out, "--seconds", 2.0, "--stream", "--int8", "off")
    assert result.exit_code == 0, result.output
    assert len(seen) >= 3 and all(on_disk == written for on_disk, written in seen)
    audio, rate = sf.read(out)
    assert rate == RATE and len(audio) == 100 * 320 == seen[-1][1]
    assert "time to first audio" in result.output and "real-time factor" in result.output
    plain = tmp_path / "plain.wav"
    assert invoke("continue", model_dir, prompt, "-o", plain, "--seconds", 2.0, "--int8", "off").exit_code == 0
    assert sf.info(plain).frames == len(audio)  # as long as the one-shot continuation


def test_dash_writes_wav_to_standard_output(model_dir, prompt):
    result = invoke("continue", model_dir, prompt, "-o", "-", "--seconds", 1.0, "--int8", "off")
    assert result.exit_code == 0, result.stderr
    data = result.stdout_bytes
    assert data[:4] == b"RIFF"
    audio, rate = sf.read(io.BytesIO(data))
    assert rate == RATE and len(audio) == 50 * 320
    assert "time to first audio" in result.stderr and b"time to first" not in data


def test_stream_errors_are_one_line(model_dir, prompt, tmp_path):
    for args, message in ((("-o", tmp_path / "x.flac", "--stream"), "use one of .wav"),
                          (("-o", "-", "--with-prompt"), "--with-prompt cannot be combined"),
                          (("-o", tmp_path / "y.wav", "--stream", "--seconds", "nan"), "--seconds must be")):
        result = invoke("continue", model_dir, prompt, *args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
