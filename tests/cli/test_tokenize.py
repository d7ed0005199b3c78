"""``audiolm tokenize`` through the typer app: wrong component folders and too-short files are named."""
import numpy as np
import torch
from typer.testing import CliRunner

from audiolm_lib.audio import save_audio
from audiolm_lib.cli import build_app
from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
from audiolm_lib.datasets.manifest import write_manifest
from audiolm_lib.lm.stages import SemanticLM, SemanticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig
from audiolm_lib.semantic.tokenizer import SemanticTokenizer

runner = CliRunner()


def test_wrong_component_folders_and_short_files(tmp_path):
    torch.manual_seed(0)
    codec = SoundStream(SoundStreamConfig(channels=4, latent_dim=16, num_quantizers=2, codebook_size=16))
    codec.save_pretrained(tmp_path / "codec")
    SemanticTokenizer.mfcc(torch.randn(8, 39)).save_pretrained(tmp_path / "tokenizer")
    shape = TransformerConfig(dim=8, depth=1, heads=2, max_seq_len=64)
    SemanticLM(SemanticLMConfig(vocab_size=8, window_seconds=0.5, transformer=shape)).save_pretrained(tmp_path / "lm")
    entries = []
    for name, samples in (("long", 8000), ("ten_ms", 160), ("one_sample", 1)):
        save_audio(tmp_path / "data" / f"{name}.wav", np.full((1, samples), 0.1, np.float32), 16000)
        entries.append({"id": name, "audio": f"{name}.wav"})
    manifest = write_manifest(tmp_path / "data" / "manifest.jsonl", entries)
    app = build_app()

    def tokenize(tokenizer, codec_dir):
        return runner.invoke(app, ["tokenize", str(manifest), str(tmp_path / "cache"), "--tokenizer", str(tokenizer),
                                   "--codec", str(codec_dir)])

    result = tokenize(tmp_path / "tokenizer", tmp_path / "lm")
    assert result.exit_code == 2 and "lm holds a SemanticLM, not a codec (--codec)" in result.output
    result = tokenize(tmp_path / "lm", tmp_path / "codec")
    assert result.exit_code == 2 and "lm holds a SemanticLM, not a semantic tokenizer (--tokenizer)" in result.output
    result = tokenize(tmp_path / "tokenizer", tmp_path / "codec")
    assert result.exit_code == 0, result.output
    assert "2 error(s)" in result.output and "skipped ten_ms" in result.output and "skipped one_sample" in result.output
    assert "ten_ms.wav is 0.010 s long; at least 0.020 s is needed" in result.output  # one 50 Hz frame
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, ["tokenize", str(manifest), str(tmp_path / "file"), "--tokenizer",
                                 str(tmp_path / "tokenizer"), "--codec", str(tmp_path / "codec")])
    assert result.exit_code == 2 and "exists and is not a folder" in result.output
