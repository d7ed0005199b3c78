"""The prompt brought to the level the models trained at, and what they make brought back to the prompt's.

Every training clip was peak-normalised to :data:`~audiolm_lib.datasets.tts.PEAK` (speech, recorded voices and piano
alike) and no training step varies the level, so a quieter prompt gives log-mel semantic ids and codec codes the
stages never saw. On the recorded validation voices 8 dB down, the shipped pipeline's continuations were less like
the prompt's voice (speaker similarity 0.613 -> 0.586) and less voiced (0.63 -> 0.57; BENCHMARKS.md, issue 20's
twenty-third pass). With ``AudioLMConfig.prompt_peak`` set, the prompt's peak is brought to it before it is tokenized
and the decoded audio (prompt and continuation) is scaled back by the same gain, so a continuation keeps its prompt's
loudness.
"""
from __future__ import annotations

import math

import torch

MAX_GAIN_DB = 30.0  # a prompt more than 30 dB below full scale is raised by 30 dB only: its noise is not amplified more


def check_prompt_peak(peak: float | None) -> None:
    if peak is not None and not (math.isfinite(peak) and 0 < peak <= 1):
        raise ValueError(f"prompt_peak must be in (0, 1] (a peak level in full scale) or None, got {peak}")


def level_gain(wave: torch.Tensor, peak: float | None) -> torch.Tensor:
    """``Tensor[B, 1, 1]`` per item of ``wave`` ``Tensor[B, 1, T]``: the gain that brings its peak to ``peak``
    (at most :data:`MAX_GAIN_DB` up; 1 where ``peak`` is None or the wave is silent)."""
    check_prompt_peak(peak)
    ones = torch.ones(wave.shape[0], 1, 1, dtype=wave.dtype, device=wave.device)
    if peak is None:
        return ones
    peaks = wave.abs().amax(dim=-1, keepdim=True).amax(dim=-2, keepdim=True)  # [B, 1, 1]
    gain = (peak / peaks.clamp_min(1e-12)).clamp(max=10 ** (MAX_GAIN_DB / 20))
    return torch.where(peaks > 0, gain, ones)


def to_level(wave: torch.Tensor, peak: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``wave`` ``Tensor[B, 1, T]`` at ``peak`` (:func:`level_gain`), and the gain ``Tensor[B, 1, 1]``."""
    gain = level_gain(wave, peak)
    return wave * gain, gain
