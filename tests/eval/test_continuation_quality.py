"""How held-out speech clips become prompt / real continuation items: per speaker, consecutive stretches."""
import pytest
import torch

from audiolm_lib.eval.continuation_quality import speech_items


def clips(speaker: str, seconds: list[float], rate: int = 100) -> list[dict]:
    return [{"set": "s", "speaker": speaker, "sample_rate": rate, "wave": torch.full((int(s * rate),), float(n + 1))}
            for n, s in enumerate(seconds)]


def test_one_item_per_speaker_by_default_and_consecutive_stretches_on_request():
    passage = clips("a", [5.0, 5.0, 5.0]) + clips("b", [2.0])  # a: 15.6 s with the two 0.3 s gaps; b: 2 s
    (first,) = [item for item in speech_items(passage, 3.0, 4.0) if item["speaker"] == "a"]
    assert first["id"] == "a" and len(first["prompt"]) == 300 and len(first["real"]) == 400
    assert all(item["speaker"] != "b" for item in speech_items(passage, 3.0, 4.0))  # too short for 3 s + 1.5 s
    items = speech_items(passage, 3.0, 4.0, per_speaker=5)
    assert [item["id"] for item in items] == ["a", "a#2"]  # a third stretch would start 14 s in: 1.6 s left
    assert items[1]["prompt"][0] == 2.0 and len(items[1]["real"]) == 400  # starts 7 s in: the second clip
    with pytest.raises(ValueError, match="per_speaker"):
        speech_items(passage, 3.0, 4.0, per_speaker=0)
