"""Every ```python block of README.md runs as written, in a folder that holds what the blocks name.

The folder has ``checkpoints/`` (the shipped models), a 44.1 kHz stereo ``prompt.wav`` (not the models' rate), the
parts of a tiny shipped-architecture model under ``runs/`` (what the training commands write), and, for the block
that plugs in real models, ``my_audio/``, a tiny 6-layer HuBERT saved as a fairseq ``hubert_base_ls960.pt`` and a
randomly initialised EnCodec 24 kHz as ``encodec_24khz-d7cc33bc.th``. A block that names a file not made here fails,
so a new README block cannot go untested.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from audiolm_lib.audio import save_audio
from tiny_pipeline import tiny_shipped_audiolm

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", README, flags=re.S | re.M)


def _tone(seconds: float, rate: int, channels: int = 1, hz: float = 330.0) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return torch.stack([0.3 * torch.sin(2 * math.pi * hz * (c + 1) * t) for c in range(channels)])


def _tiny_runs(folder: Path) -> None:
    model = tiny_shipped_audiolm()
    model.semantic_tokenizer.save_pretrained(folder / "runs" / "tokenizer")
    model.codec.save_pretrained(folder / "runs" / "codec" / "codec")
    model.semantic_lm.save_pretrained(folder / "runs" / "semantic" / "model")
    model.acoustic.save_pretrained(folder / "runs" / "parallel" / "model")


def _hubert_and_encodec(folder: Path) -> None:
    transformers = pytest.importorskip("transformers")
    from audiolm_lib.codecs.encodec import hf_to_original_state_dict
    from semantic.semantic_fairseq_fixtures import TINY, write_fairseq_checkpoint

    torch.manual_seed(0)
    hubert = transformers.HubertModel(transformers.HubertConfig(**{**TINY, "num_hidden_layers": 6})).eval()
    write_fairseq_checkpoint(hubert, folder / "hubert_base_ls960.pt")
    encodec = transformers.EncodecModel(transformers.EncodecConfig()).eval()  # 24 kHz, random weights
    torch.save(hf_to_original_state_dict(encodec), folder / "encodec_24khz-d7cc33bc.th")
    for k in range(3):  # 12 s at 50 Hz: more frames than the block's 500 clusters
        save_audio(folder / "my_audio" / f"clip{k}.wav", _tone(4.0, 16000, hz=200.0 + 90 * k), 16000)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 3
    assert "audiolm demo --out demo_out" in README.split("<!-- test-command -->")[0]  # install + demo come first


@pytest.mark.parametrize("number", range(len(BLOCKS)), ids=[f"block{k + 1}" for k in range(len(BLOCKS))])
def test_readme_python_block_runs(number, tmp_path, monkeypatch):
    code = BLOCKS[number]
    (tmp_path / "checkpoints").symlink_to(ROOT / "checkpoints")
    save_audio(tmp_path / "prompt.wav", _tone(2.0, 44100, channels=2), 44100)
    if "runs/" in code:
        _tiny_runs(tmp_path)
    if "hubert_base_ls960.pt" in code or "encodec_" in code:
        _hubert_and_encodec(tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(code, f"README.md python block {number + 1}", "exec"), namespace)
    for name in ("wave", "again", "unconditioned", "streamed"):  # the first block's results, where it made them
        if name in namespace:
            assert torch.isfinite(namespace[name]).all() and namespace[name].shape[:2] in ((1, 1), (2, 1))
    if (tmp_path / "my_audiolm").exists():  # the block that builds one from parts saved a loadable model
        from audiolm_lib import AudioLM, ParallelAcousticLM

        assert isinstance(AudioLM.from_pretrained(tmp_path / "my_audiolm").acoustic, ParallelAcousticLM)
