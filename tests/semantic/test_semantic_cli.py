"""``audiolm fit-kmeans`` end to end on a tiny folder of tones."""
import pytest
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


@pytest.mark.slow
def test_train_hubert_command_writes_a_hubert_directory(tmp_path):
    t = torch.arange(16000) / 16000
    for i, freq in enumerate((300.0, 1100.0)):
        save_audio(tmp_path / "wavs" / f"{i}.wav", (0.4 * torch.sin(2 * torch.pi * freq * t))[None], 16000)
    tiny = ["hidden_size=32", "num_layers=1", "num_heads=2", "intermediate_size=32", "conv_dim=8", "conv_pos=8",
            "conv_pos_groups=2", "proj_dim=8", "num_clusters=4", "crop_seconds=0.5", "batch_size=2", "steps=2",
            "warmup_steps=1", "save_every=2"]
    args = ["train-hubert", str(tmp_path / "wavs"), "--out", str(tmp_path / "run")]
    for item in tiny:
        args += ["--set", item]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "hubert" / "config.json").exists()
    assert (tmp_path / "run" / "checkpoints" / "step_00000002.safetensors").exists()
    result = CliRunner().invoke(build_app(), args[:4] + ["--set", "steps=nope"])
    assert result.exit_code == 2 and "steps must be int" in result.output
