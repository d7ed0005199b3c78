"""A summary of the acoustic prompt added to every frame of the parallel generator's input (issue 20).

The generator given the true semantic ids loses the prompt's voice (speaker similarity 0.63 where the codec's
resynthesis keeps 0.74): a 4-block model has to find the voice by attending back to the prompt's frames, and more
training with prompts from elsewhere in a recording did not teach it to. Speaker encoders (GE2E, x-vectors) and the
global style tokens of TTS models hand a decoder the voice as one vector pooled over a reference utterance; this
is that vector, learned: the mean of the prompt frames' code embeddings (a histogram of the codes the prompt uses on
every level, which carries the voice and the recording's channel) through a small MLP, added to every frame.

The prompt is the leading run of frames whose generated levels are all known (a window's given prompt or context,
the training mask's prompt); no prompt (no such frame, or a prompt dropped for classifier-free guidance) adds
nothing. The output projection starts at zero, so a trained model given the summary computes exactly what it did
(:func:`audiolm_lib.training.extend.extended`) and fine-tuning learns what the summary adds.

Measured (issue 20, tenth pass; BENCHMARKS.md): a leg of the shipped speech generator with it carried the voice no
better than the same leg without it; no shipped model uses it.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def prompt_frames(known: Tensor) -> Tensor:
    """``BoolTensor[B, T]``: the prompt, the leading run of ``known: BoolTensor[B, T]`` (frames whose generated levels
    are all given); scattered known frames after it (training's unmasked share of its level) are not the prompt."""
    return known.long().cumprod(dim=1).bool()


class PromptSummary(nn.Module):
    """``Tensor[B, T, D]`` frame inputs + ``BoolTensor[B, T]`` prompt frames (:func:`prompt_frames`) ->
    ``Tensor[B, 1, D]``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.inner = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, frames: Tensor, prompt: Tensor) -> Tensor:
        count = prompt.sum(dim=1, keepdim=True)  # [B, 1]
        mean = (frames * prompt[..., None]).sum(dim=1, keepdim=True) / count.clamp_min(1)[..., None]
        summary = self.out(torch.nn.functional.gelu(self.inner(self.norm(mean))))
        return summary * (count > 0)[..., None]
