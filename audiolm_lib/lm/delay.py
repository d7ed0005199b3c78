"""Delay-pattern layout (MusicGen): one Transformer step per frame, level ``k`` delayed by ``k`` steps.

Step ``s`` holds level ``k`` of frame ``s - k`` for every ``k`` at once; its input is the sum of those
embeddings (an EMPTY id where ``s - k`` falls outside the window), and the output of step ``s - 1``
(``SEP`` for the first step) predicts all levels of step ``s`` with one head per level::

    step:     0     1     2     3     ...
    level 0:  c0^0  c1^0  c2^0  c3^0
    level 1:  -     c0^1  c1^1  c2^1
    level 2:  -     -     c0^2  c1^2

So level ``k`` of frame ``t`` sees levels ``< k`` of frame ``t`` (and a little of the future of lower
levels), but the levels sampled in one step are drawn independently of each other: that is the quality
given up for speed. ``F`` frames take ``F + Q - 1`` steps, each one global step (no local model).

Causality is in steps, not frames: the logits of step ``s`` never depend on steps ``>= s``.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from audiolm_lib.lm.base import decode_threads, eval_mode
from audiolm_lib.lm.framewise import FramewiseLayout, FramewiseLM
from audiolm_lib.lm.layouts import PAD_VALUE
from audiolm_lib.lm.sampling import sample_logits, validate_sampling
from audiolm_lib.lm.transformer import TransformerConfig

EMPTY = -2  # marks "no token of this level at this step" inside delayed grids


class DelayLayout(FramewiseLayout):
    """``[cond frames] [SEP] [steps]`` with step ``s`` = levels ``k`` of frames ``s - k``."""

    name = "delay"

    def sequence_length(self, condition_frames: int, target_frames: int) -> int:
        """Global positions for a window of ``target_frames`` (the ``Q - 1`` extra delay steps included)."""
        return condition_frames + 1 + target_frames + self.target_levels - 1

    def delay(self, frames: Tensor, steps: int) -> Tensor:
        """``LongTensor[B, Q, F]`` -> ``LongTensor[B, Q, steps]`` with ``out[:, k, s] = frames[:, k, s - k]``.

        Entries whose frame lies outside ``[0, F)`` are :data:`EMPTY`.
        """
        batch, levels, count = frames.shape
        out = torch.full((batch, levels, steps), EMPTY, dtype=frames.dtype, device=frames.device)
        for level in range(levels):
            width = max(0, min(count, steps - level))
            if width:
                out[:, level, level : level + width] = frames[:, level, :width]
        return out

    def step_ids(self, grid: Tensor) -> Tensor:
        """Delayed grid ``LongTensor[B, Q, S]`` (codes, ``-1`` PAD, ``-2`` EMPTY) -> joint ids ``[B, S, Q]``."""
        ids = self.level_ids(grid, self._target_offsets)
        return torch.where(grid.transpose(1, 2) == EMPTY, torch.full_like(ids, self.empty_id), ids)


def delay_window(low: int, high: int, current: int, window: int, hop: int) -> int:
    """Start of a window of ``window`` frames holding frames ``low..high`` (those sampled at this step).

    Kept while it holds them; otherwise it jumps so ``hop`` fresh frames fit (cf. ``window_start``),
    but never past ``low``: a step may still owe upper levels of frames the new window would drop.
    """
    if current <= low and high < current + window:
        return current
    return max(0, min(low, high - (window - hop)))


class DelayLM(FramewiseLM):
    """One global Transformer over delayed steps with a head per level (no local model).

    Args:
        layout: a :class:`DelayLayout`.
        transformer: the Transformer config.
        tie_embeddings: unsupported here (``ValueError``).
        local_transformer: ignored (accepted so every layout takes the same arguments).
    """

    def __init__(self, layout: DelayLayout, transformer: TransformerConfig, tie_embeddings: bool,
                 local_transformer: TransformerConfig | None = None) -> None:
        super().__init__(layout, transformer, tie_embeddings)
        self.head = nn.Parameter(torch.empty(layout.target_levels, layout.target_vocab + int(layout.with_eos),
                                             transformer.dim))
        nn.init.normal_(self.head, std=0.02)

    def step_inputs(self, condition: Tensor | None, grid: Tensor, batch: int) -> tuple[Tensor, Tensor | None]:
        """``[cond] [SEP] [steps of grid]`` embeddings ``Tensor[B, Fc + 1 + S, D]``, and the cond embeddings."""
        prefix, cond = self.prefix(condition, batch)
        inputs = prefix
        if grid.shape[-1]:
            inputs = torch.cat([prefix, self.embedding(self.layout.step_ids(grid)).sum(dim=2)], dim=1)
        return self.add_aligned(inputs, cond, prefix.shape[1] - 1), cond

    def frame_logits(self, condition: Tensor | None, targets: Tensor, batch_size: int | None = None) -> Tensor:
        """``Tensor[B, Q, F, K(+1)]``: level ``k`` of frame ``t`` is read at step ``t + k``."""
        batch, levels, frames = targets.shape
        steps = frames + levels - 1
        inputs, _ = self.step_inputs(condition, self.layout.delay(targets, steps - 1), batch)
        self.check_length(inputs.shape[1], self.transformer, "delay")
        hidden = self.transformer(inputs)[:, -steps:]  # [B, S, D]: output before each step
        level_index = torch.arange(levels, device=targets.device)
        positions = level_index[:, None] + torch.arange(frames, device=targets.device)[None]  # [Q, F]
        picked = hidden[:, positions]  # [B, Q, F, D]
        return torch.einsum("bqfd,qkd->bqfk", picked, self.head)

    @torch.inference_mode()
    def sample_frames(self, buffer: Tensor, start: int, condition_for: Callable[[int, int], Tensor | None],
                      window: int, hop: int, capacity: int, *, temperature: float = 1.0, top_k: int | None = None,
                      top_p: float | None = None, generator: torch.Generator | None = None,
                      stop_at_eos: bool = False) -> Tensor:
        """Fill ``buffer[:, :, start:]`` in place, one step (every level, delayed) at a time.

        Same contract as the flat layout's ``sample_frames``; needs ``window >= Q`` so that one window
        holds every frame a step touches.
        """
        validate_sampling(temperature, top_k, top_p)
        batch, levels, total = buffer.shape
        if window < levels:
            raise ValueError(f"the delay layout needs a window of at least {levels} frames (one per level), "
                             f"got {window}; raise window_seconds")
        device = buffer.device
        cache = self.reusable_cache("global", self.transformer, batch, capacity, device)
        use_eos = self.layout.with_eos and stop_at_eos
        codes = self.layout.target_vocab
        head = self.head if use_eos else self.head[:, :codes]
        finished = torch.zeros(batch, dtype=torch.bool, device=device)
        begin, hidden, cond = 0, None, None
        last_step = total + levels - 1
        with decode_threads(device), eval_mode(self):
            for step in range(start, last_step):
                low, high = max(start, step - levels + 1), min(step, total - 1)
                new_begin = delay_window(low, high, begin, window, hop)
                if hidden is None or new_begin != begin:  # (re)encode conditioning + known steps
                    begin = new_begin
                    cache.reset()
                    end = min(begin + window, total)
                    grid = self.layout.delay(buffer[:, :, begin:end], step - begin)
                    inputs, cond = self.step_inputs(condition_for(begin, end), grid, batch)
                    hidden = self.transformer(inputs, cache)[:, -1]
                active = [k for k in range(levels) if low <= step - k <= high]
                heads = head if len(active) == levels else head[active]
                logits = torch.einsum("bd,akd->bak", hidden, heads)  # [B, A, K]
                tokens = sample_logits(logits.flatten(0, 1), temperature, top_k, top_p, generator).view(batch, -1)
                for column, level in enumerate(active):
                    buffer[:, level, step - level] = tokens[:, column]
                if use_eos:  # one level (the semantic stage): step == frame
                    finished |= tokens[:, 0] == codes
                    buffer[finished, 0, step] = PAD_VALUE
                    if bool(finished.all()):
                        buffer[:, :, step + 1 :] = PAD_VALUE
                        return buffer
                if step + 1 == last_step:
                    break
                next_low, next_high = max(start, step + 2 - levels), min(step + 1, total - 1)
                if delay_window(next_low, next_high, begin, window, hop) != begin:
                    continue  # the next step re-encodes a new window
                inputs = self._step_embedding(buffer, step, begin, min(begin + window, total), cond)
                hidden = self.transformer.step(inputs, cache)
        return buffer

    def _step_embedding(self, buffer: Tensor, step: int, begin: int, end: int, cond: Tensor | None) -> Tensor:
        """``Tensor[B, D]``: input of absolute ``step`` in the window of frames ``[begin, end)``."""
        levels = [k for k in range(buffer.shape[1]) if begin <= step - k < end]
        ids = torch.full((buffer.shape[0], buffer.shape[1]), self.layout.empty_id, dtype=torch.long,
                         device=buffer.device)
        if levels:
            codes = buffer[:, levels, [step - k for k in levels]].clamp_min(0)  # finished (EOS) items: any id
            ids[:, levels] = codes + self.layout._target_offsets[levels].to(buffer.device)
        inputs = self.embedding(ids).sum(dim=1)
        aligned = self.aligned_step(cond, step + 1 - begin)
        return inputs if aligned is None else inputs + aligned
