"""Parallel-stage examples whose acoustic prompt comes from another segment of the same recording, or from
another recording of the same speaker.

SoundStorm's training prompt is the start of the crop itself (frames ``< t`` of one contiguous stretch), so the
model can continue a prompt by copying the sound just before the boundary. Here, for a share of examples
(``CropSpec.prompt_elsewhere``), the ``P`` prompt frames are taken from a *disjoint* stretch of the same item
(before or after the target stretch, chosen at random): to predict the target the model has to carry the voice,
timbre or key across, not the waveform's continuation. The example keeps the crop's length (``P`` prompt frames
followed by ``F - P`` target frames, semantic tokens cut the same way) and the batch says where its prompt ends
(``prompt_frames``, ``-1`` for examples left as they were), which the parallel model's training mask uses as its
prompt delimiter.

A second share (``CropSpec.prompt_same_speaker``) takes the ``P`` prompt frames from another training item whose
``speaker`` is the item's (:func:`speaker_example`): another sentence or recording session of the voice, as at
inference, where the prompt is one recording and the voice must carry over to new words. An item whose speaker has
no other item falls back to a prompt from elsewhere in itself.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from audiolm_lib.training.crops import CropSpec, _stack, crop_item


def elsewhere_example(item: dict[str, Any], spec: CropSpec, seconds: float,
                      generator: torch.Generator) -> tuple[dict[str, torch.Tensor], int] | None:
    """``({"semantic": LongTensor[S], "codes": LongTensor[Q, F]}, P)``: ``P`` prompt frames from one stretch of
    ``item`` and ``F - P`` target frames from a disjoint one, ``F`` and ``S`` as :func:`crop_item` gives for
    ``seconds``; ``None`` if the crop is shorter than 2 frames."""
    frames = max(1, int(math.floor(seconds * spec.acoustic_rate)))
    if frames < 2:
        return None
    total = int(item["acoustic"].shape[-1])
    prompt = int(torch.randint(1, frames, (), generator=generator))
    target = frames - prompt
    spare = total - frames  # >= 0: the batch's crop fits every item
    first_gap = int(torch.randint(spare + 1, (), generator=generator))
    second_gap = int(torch.randint(spare - first_gap + 1, (), generator=generator))
    prompt_first = bool(torch.rand((), generator=generator) < 0.5)
    lengths = (prompt, target) if prompt_first else (target, prompt)
    starts = (first_gap, first_gap + lengths[0] + second_gap)
    prompt_start, target_start = starts if prompt_first else starts[::-1]
    parts = [_crop_at(item, spec, prompt_start, prompt), _crop_at(item, spec, target_start, target)]
    size = crop_item(item, spec, seconds, 0.0)["semantic"].shape[-1]  # the shape a plain example of this batch has
    return _joined(parts, size), prompt


def _crop_at(item: dict[str, Any], spec: CropSpec, start: int, frames: int) -> dict[str, torch.Tensor]:
    """:func:`crop_item` of ``frames`` frames starting exactly at frame ``start``."""
    starts = int(item["acoustic"].shape[-1]) - frames + 1
    return crop_item(item, spec, (frames + 1e-6) / spec.acoustic_rate, (start + 0.5) / starts)


def speaker_example(item: dict[str, Any], other: dict[str, Any], spec: CropSpec, seconds: float,
                    generator: torch.Generator) -> tuple[dict[str, torch.Tensor], int] | None:
    """``({"semantic": LongTensor[S], "codes": LongTensor[Q, F]}, P)``: ``P`` prompt frames from a random stretch
    of ``other`` (an item of the same speaker) and ``F - P`` target frames from a random stretch of ``item``, ``F``
    and ``S`` as :func:`crop_item` gives for ``seconds``; ``P`` is at most ``other``'s length; ``None`` if the crop
    is shorter than 2 frames."""
    frames = max(1, int(math.floor(seconds * spec.acoustic_rate)))
    if frames < 2:
        return None
    prompt = min(int(torch.randint(1, frames, (), generator=generator)), int(other["acoustic"].shape[-1]))
    target = frames - prompt
    prompt_start = int(torch.randint(int(other["acoustic"].shape[-1]) - prompt + 1, (), generator=generator))
    target_start = int(torch.randint(int(item["acoustic"].shape[-1]) - target + 1, (), generator=generator))
    parts = [_crop_at(other, spec, prompt_start, prompt), _crop_at(item, spec, target_start, target)]
    return _joined(parts, crop_item(item, spec, seconds, 0.0)["semantic"].shape[-1]), prompt


def _joined(parts: list[dict[str, torch.Tensor]], size: int) -> dict[str, torch.Tensor]:
    """The prompt part then the target part, semantic tokens cut or padded (with the last one) to ``size``."""
    codes = torch.cat([part["codes"] for part in parts], dim=-1)
    semantic = torch.cat([part["semantic"] for part in parts])
    if semantic.shape[-1] < size:  # each part floors its own semantic length: pad with the last token
        semantic = torch.cat([semantic, semantic[-1:].expand(size - semantic.shape[-1])])
    return {"semantic": semantic[:size], "codes": codes}


def replace_prompts(crops: list[dict[str, torch.Tensor]], items: list[dict[str, Any]], numbers, spec: CropSpec,
                    seconds: float, seed_of, partner_of=None) -> dict[str, torch.Tensor]:
    """The batch of ``crops`` with a ``spec.prompt_same_speaker`` share of them replaced by
    :func:`speaker_example` and a ``spec.prompt_elsewhere`` share by :func:`elsewhere_example` (drawn from a
    generator seeded by ``seed_of(n)`` for the ``n``-th item drawn, so the plain crops and the rest of the stream
    are unchanged; with no same-speaker share the draws are those of before). ``partner_of(k, generator)`` gives
    another item of the ``k``-th item's speaker, or ``None`` (then a prompt from elsewhere in the item). Adds
    ``prompt_frames: LongTensor[B]``."""
    prompt_frames = []
    for k, (n, item) in enumerate(zip(numbers, items)):
        generator = torch.Generator().manual_seed(seed_of(n))
        draw = float(torch.rand((), generator=generator))
        example = None
        if draw < spec.prompt_same_speaker:
            other = partner_of(k, generator) if partner_of is not None else None
            example = (speaker_example(item, other, spec, seconds, generator) if other is not None
                       else elsewhere_example(item, spec, seconds, generator))
        elif draw < spec.prompt_same_speaker + spec.prompt_elsewhere:
            example = elsewhere_example(item, spec, seconds, generator)
        if example is not None:
            crops[k] = example[0]
        prompt_frames.append(-1 if example is None else example[1])
    batch = _stack(crops)
    batch["prompt_frames"] = torch.tensor(prompt_frames, dtype=torch.long)
    return batch
