"""One training example of a stage: :class:`CropSpec` (what a stage's crop holds) and :func:`crop_item` (aligned
tokens cut out of one token-cache item). The sampler that draws crops is :mod:`audiolm_lib.training.data`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from audiolm_lib.training.stages import ACOUSTIC_KEYS, check_prompt_elsewhere, stage_kind


@dataclass(frozen=True)
class CropSpec:
    """What one stage's training example looks like.

    Args:
        stage: a registered stage kind (:mod:`audiolm_lib.training.stages`); its batch keys say what is cropped.
        seconds: crop length in seconds.
        semantic_rate / acoustic_rate: tokens per second of the two token streams.
        num_coarse: RVQ levels the coarse stage models (levels ``[0, num_coarse)``).
        num_fine: RVQ levels the fine stage models (levels ``[num_coarse, num_coarse + num_fine)``).
            The parallel stage takes levels ``[0, num_coarse + num_fine)``.
        min_seconds: items shorter than this are skipped.
        prompt_elsewhere: (parallel) share of examples whose acoustic prompt comes from another segment of the
            same item (:mod:`audiolm_lib.training.prompt_crops`); 0: every crop is one stretch, as before.
        prompt_same_speaker: (parallel) share of examples whose acoustic prompt comes from *another item* of the
            same speaker (another recording or sentence); needs items that name their speaker.
        prompt_only_tag: (parallel, with ``prompt_same_speaker``) items whose id holds this tag are only ever
            another item's same-speaker prompt, never a target (e.g. ``"@nb"``: telephone copies of a voice that keep
            its speaker, so the model learns to carry a voice across the channel, not the channel's codes).
    """

    stage: str
    seconds: float
    semantic_rate: float
    acoustic_rate: float
    num_coarse: int = 4
    num_fine: int = 8
    min_seconds: float = 1.0
    prompt_elsewhere: float = 0.0
    prompt_same_speaker: float = 0.0
    prompt_only_tag: str = ""

    def __post_init__(self):
        stage_kind(self.stage)  # a registered kind
        if self.seconds <= 0 or self.min_seconds < 0:
            raise ValueError(f"crop seconds must be positive, got seconds={self.seconds}, min_seconds={self.min_seconds}")
        if self.semantic_rate <= 0 or self.acoustic_rate <= 0:
            raise ValueError(f"token rates must be positive, got {self.semantic_rate} and {self.acoustic_rate}")
        check_prompt_elsewhere(self.stage, self.prompt_elsewhere, self.prompt_same_speaker)
        if self.prompt_only_tag and not self.prompt_same_speaker:
            raise ValueError("prompt_only_tag names items used only as same-speaker prompts: it needs "
                             "prompt_same_speaker > 0")

    @property
    def keys(self) -> tuple[str, ...]:
        return stage_kind(self.stage).batch_keys

    def level_range(self, key: str) -> tuple[int, int]:
        """RVQ levels ``[first, end)`` an acoustic batch key holds."""
        return {"coarse": (0, self.num_coarse), "fine": (self.num_coarse, self.num_coarse + self.num_fine),
                "codes": (0, self.num_coarse + self.num_fine)}[key]


def _item_seconds(item: dict[str, Any], spec: CropSpec) -> float:
    """Duration covered by the token streams this stage needs."""
    durations = []
    if "semantic" in spec.keys:
        durations.append(item["semantic"].shape[-1] / spec.semantic_rate)
    if any(key in ACOUSTIC_KEYS for key in spec.keys):
        durations.append(item["acoustic"].shape[-1] / spec.acoustic_rate)
    return min(durations)


def crop_item(item: dict[str, Any], spec: CropSpec, seconds: float, fraction: float) -> dict[str, torch.Tensor]:
    """Crop ``seconds`` of aligned tokens out of one item.

    ``fraction`` in ``[0, 1)`` picks the start among all valid starts (0 = the beginning). The acoustic and
    semantic windows start at the same time, converted through the two rates.

    Returns the stage's batch keys: ``semantic: LongTensor[S]``, ``coarse: LongTensor[Qc, F]``,
    ``fine: LongTensor[Qf, F]``, ``codes: LongTensor[Qc + Qf, F]``.
    """
    out: dict[str, torch.Tensor] = {}
    acoustic_keys = [key for key in spec.keys if key in ACOUSTIC_KEYS]
    if not acoustic_keys:  # semantic tokens only: the crop may start at any semantic token
        semantic = item["semantic"]
        length = max(1, int(math.floor(seconds * spec.semantic_rate)))
        start = int(fraction * (semantic.shape[-1] - length + 1))
        out["semantic"] = semantic[start : start + length].long()
        return out
    acoustic = item["acoustic"]
    needed = max(spec.level_range(key)[1] for key in acoustic_keys)
    if acoustic.dim() != 2 or acoustic.shape[0] < needed:
        raise ValueError(
            f"{spec.stage} stage needs acoustic codes of shape [Q >= {needed}, F], got {tuple(acoustic.shape)}"
        )
    frames = max(1, int(math.floor(seconds * spec.acoustic_rate)))
    start = int(fraction * (acoustic.shape[-1] - frames + 1))
    window = acoustic[:, start : start + frames].long()
    for key in acoustic_keys:
        first, end = spec.level_range(key)
        out[key] = window[first:end]
    if "semantic" not in spec.keys:
        return out
    semantic = item["semantic"]
    tokens = max(1, int(math.floor(seconds * spec.semantic_rate)))
    # same start time: the first semantic token at or after the first frame (as CoarseLM.semantic_index);
    # clamped because the two streams may differ by a token at the end
    sem_start = min(math.ceil(start * spec.semantic_rate / spec.acoustic_rate - 1e-6), semantic.shape[-1] - tokens)
    out["semantic"] = semantic[max(0, sem_start) : max(0, sem_start) + tokens].long()
    return out


def _stack(crops: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([c[key] for c in crops]) for key in crops[0]}
