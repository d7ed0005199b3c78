"""StreamingWavWriter: a valid WAV after every chunk, renamed onto the target on close, streamable to a pipe."""
import io
import wave

import numpy as np
import pytest
import soundfile as sf
import torch

from audiolm_lib.wav_stream import StreamingWavWriter


def test_the_temp_file_is_a_valid_wav_after_every_chunk(tmp_path):
    target = tmp_path / "out" / "stream.wav"
    chunks = [torch.linspace(-0.5, 0.5, n)[None, None] for n in (800, 1, 1600)]
    writer = StreamingWavWriter(target, 16000)
    written = 0
    for chunk in chunks:
        writer.write(chunk)
        written += chunk.shape[-1]
        audio, rate = sf.read(writer.temp_path)  # readable mid-stream, with every sample so far
        assert rate == 16000 and audio.shape == (written,)
        assert not target.exists()
    assert writer.close() == target and not list(target.parent.glob(".*.tmp"))
    audio, _ = sf.read(target)
    expected = torch.cat([c.reshape(-1) for c in chunks]).numpy()
    assert np.abs(audio - expected).max() < 1 / 16000
    assert abs(writer.seconds - written / 16000) < 1e-9


def test_an_error_removes_the_temp_file_and_ctrl_c_keeps_the_audio(tmp_path):
    target = tmp_path / "a.wav"
    with pytest.raises(RuntimeError):
        with StreamingWavWriter(target, 8000) as writer:
            writer.write(np.zeros(100))
            raise RuntimeError("boom")
    assert not target.exists() and not list(tmp_path.iterdir())
    with pytest.raises(KeyboardInterrupt):
        with StreamingWavWriter(target, 8000) as writer:
            writer.write(np.zeros(100))
            raise KeyboardInterrupt
    assert sf.info(target).frames == 100
    with pytest.raises(ValueError, match="NaN"):
        StreamingWavWriter(tmp_path / "b.wav", 8000).write(np.array([np.nan]))


class Pipe(io.BytesIO):
    def seekable(self):
        return False


def test_a_pipe_gets_a_streaming_header_and_a_seekable_stream_the_true_sizes():
    pipe = Pipe()
    writer = StreamingWavWriter(pipe, 16000)
    writer.write(np.full(480, 0.25))
    writer.close()
    data = pipe.getvalue()
    assert data[4:8] == b"\xff\xff\xff\xff" and len(data) == 44 + 960
    audio, rate = sf.read(io.BytesIO(data))
    assert rate == 16000 and len(audio) == 480
    regular = io.BytesIO()
    writer = StreamingWavWriter(regular, 16000)
    writer.write(np.full(480, 0.25))
    writer.close()
    with wave.open(io.BytesIO(regular.getvalue())) as parsed:
        assert parsed.getnframes() == 480 and parsed.getframerate() == 16000
