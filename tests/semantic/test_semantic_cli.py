"""``audiolm fit-kmeans`` end to end on a tiny folder of tones."""
import torch
from typer.testing import CliRunner

from audiolm_lib.audio import save_audio
from audiolm_lib.cli import build_app
from audiolm_lib.semantic.kmeans import KMeans
from audiolm_lib.semantic.tokenizer import SemanticTokenizer


def test_fit_kmeans_writes_a_loadable_tokenizer(tmp_path):
    t = torch.arange(8000) / 16000
    for i, freq in enumerate((200.0, 900.0)):
        save_audio(tmp_path / "wavs" / f"{i}.wav", (0.4 * torch.sin(2 * torch.pi * freq * t))[None], 16000)
    result = CliRunner().invoke(build_app(), ["fit-kmeans", str(tmp_path / "wavs"), "--out", str(tmp_path / "tok"),
                                              "--clusters", "4", "--batch-frames", "16"])
    assert result.exit_code == 0, result.output
    tokenizer = SemanticTokenizer.from_pretrained(tmp_path / "tok")
    assert tokenizer.vocab_size == 4
    assert torch.equal(KMeans.load(tmp_path / "tok" / "kmeans.npy").centroids, tokenizer.kmeans.centroids)
    assert tokenizer.tokenize(torch.randn(1, 1, 3200)).shape == (1, 10)


def test_fit_kmeans_errors_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(build_app(), ["fit-kmeans", str(tmp_path / "empty"), "--out", str(tmp_path / "tok")])
    assert result.exit_code == 2 and "no audio files" in result.output
    result = CliRunner().invoke(build_app(), ["fit-kmeans", str(tmp_path), "--out", str(tmp_path / "t"), "--features", "hubert"])
    assert result.exit_code == 2 and "needs --model" in result.output
