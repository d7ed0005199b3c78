"""Golden outputs: a fixed tiny pipeline, prompt and seed must keep producing the same tokens.

Guards sampling, layouts, tokenization and the codec against silent behaviour changes. After an intended change,
regenerate with ``AUDIOLM_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`` and say why in the commit.
"""
import json
import os
from pathlib import Path

import pytest
import torch

from test_pipeline import RATE, tiny_pipeline

GOLDEN = Path(__file__).parent / "data" / "golden_tokens.json"


def _prompt() -> torch.Tensor:
    t = torch.arange(int(0.4 * RATE)) / RATE
    return (0.4 * torch.sin(2 * torch.pi * 250.0 * t) * torch.exp(-3 * t))[None]


def _outputs() -> dict:
    model = tiny_pipeline()
    prompt = _prompt()
    _, sampled = model.continue_audio(prompt, seconds=0.3, sample_rate=RATE, top_k=8, return_tokens=True,
                                      generator=torch.Generator().manual_seed(1234))
    _, greedy = model.continue_audio(prompt, seconds=0.3, sample_rate=RATE, temperature=0.0, return_tokens=True)
    return {
        "sampled_semantic": sampled["semantic"][0].tolist(),
        "sampled_codes": sampled["codes"][0].tolist(),
        "greedy_semantic": greedy["semantic"][0].tolist(),
        "greedy_codes": greedy["codes"][0].tolist(),
    }


def test_pipeline_tokens_match_golden():
    outputs = _outputs()
    if os.environ.get("AUDIOLM_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(outputs) + "\n")
        pytest.skip("golden tokens rewritten")
    expected = json.loads(GOLDEN.read_text())
    for key, value in expected.items():
        assert outputs[key] == value, f"{key} differs from the golden tokens"
