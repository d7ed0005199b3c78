"""Multi-scale (global / local) layout: one global position per frame, a small local model per frame.

UniAudio's multi-scale Transformer, RQ-Transformer and Moshi's depth Transformer split a frame of
``Q`` codes between two decoders:

* the **global** Transformer (the stage's ``transformer`` config) runs over
  ``[conditioning frames] [SEP] [target frames]``, one position per frame, each frame's input being
  the sum of its level embeddings (see :mod:`audiolm_lib.lm.framewise`); its output at the position
  before frame ``t`` is the context ``g_t``;
* the **local** Transformer (``local_transformer`` config, small) generates frame ``t``'s codes level
  by level: position 0 sees ``g_t``, position ``k`` sees ``g_t + e_{k-1}(c_t^{k-1})`` and predicts
  level ``k`` with that level's head (``K`` codes, plus EOS for the semantic stage).

Coarse stage: semantic tokens are global positions, q1..qQc local. Fine stage: coarse frames are
global positions (and added to the position that predicts the same frame), q(Qc+1)..qQ local.

Generation costs one global step plus ``Q`` small local steps per frame instead of ``Q`` global steps,
and the global sequence (and KV cache) is ``Q`` times shorter. Both models decode with KV caches.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from audiolm_lib.lm.base import decode_threads, eval_mode
from audiolm_lib.lm.framewise import FramewiseLayout, FramewiseLM
from audiolm_lib.lm.layouts import PAD_VALUE
from audiolm_lib.lm.sampling import sample_logits, validate_sampling, window_start
from audiolm_lib.lm.transformer import Transformer, TransformerConfig


class MultiScaleLayout(FramewiseLayout):
    """Global sequence ``[cond frames] [SEP] [target frames]`` (one position each); levels go to the local model."""

    name = "multiscale"

    def sequence_length(self, condition_frames: int, target_frames: int) -> int:
        """Global positions for a window (an upper bound: the last frame is never an input)."""
        return condition_frames + 1 + target_frames


def default_local_config(global_config: TransformerConfig, levels: int) -> TransformerConfig:
    """The local model when the stage config names none: one block, half the global width.

    Half width keeps the head width (half the heads) and makes a local step cheap: it runs ``Q`` times
    per frame, so its cost, not the global model's, sets the generation speed (see BENCHMARKS.md).
    """
    heads = max(1, global_config.heads // 2)
    dim = global_config.dim // 2
    if dim < 2 or dim % heads or (dim // heads) % 2:
        dim, heads = global_config.dim, global_config.heads
    return TransformerConfig(dim=dim, depth=1, heads=heads, ff_mult=global_config.ff_mult,
                             dropout=global_config.dropout, max_seq_len=max(levels, 2),
                             rotary_base=global_config.rotary_base)


class MultiScaleLM(FramewiseLM):
    """Global Transformer over frames + local Transformer over a frame's levels.

    Args:
        layout: a :class:`MultiScaleLayout`.
        transformer: global model config.
        tie_embeddings: unsupported here (``ValueError``).
        local_transformer: local model config (``None``: :func:`default_local_config`, one block of half width).
    """

    def __init__(self, layout: MultiScaleLayout, transformer: TransformerConfig, tie_embeddings: bool,
                 local_transformer: TransformerConfig | None = None) -> None:
        super().__init__(layout, transformer, tie_embeddings)
        levels, codes = layout.target_levels, layout.target_vocab
        local = local_transformer or default_local_config(transformer, levels)
        if local.max_seq_len < levels:
            raise ValueError(f"local_transformer.max_seq_len={local.max_seq_len} is shorter than the "
                             f"{levels} levels it generates per frame")
        self.local = Transformer(local)
        self.local_in = nn.Linear(transformer.dim, local.dim)
        # rows: levels 0..Q-2 as inputs (the last level is never an input), START, PAD
        self.local_embedding = nn.Embedding((levels - 1) * codes + 2, local.dim)
        self.local_start_id = (levels - 1) * codes
        self.local_pad_id = self.local_start_id + 1
        self.local_head = nn.Parameter(torch.empty(levels, codes + int(layout.with_eos), local.dim))
        self.register_buffer("_local_offsets", torch.arange(levels - 1) * codes, persistent=False)
        nn.init.normal_(self.local_embedding.weight, std=0.02)
        nn.init.normal_(self.local_head, std=0.02)

    # ------------------------------------------------------------------------------------ global side
    def global_inputs(self, condition: Tensor | None, known: Tensor, batch: int) -> tuple[Tensor, Tensor | None]:
        """``[cond] [SEP] [known frames]`` embeddings ``Tensor[B, Fc + 1 + n, D]`` and the cond embeddings.

        ``known``: ``LongTensor[B, Q, n]`` target frames already fixed. The output at the last position
        is the context of frame ``n``.
        """
        prefix, cond = self.prefix(condition, batch)
        parts = [prefix]
        if known.shape[-1]:
            parts.append(self.embed_levels(known, self.layout._target_offsets))
        inputs = torch.cat(parts, dim=1) if len(parts) > 1 else prefix
        return self.add_aligned(inputs, cond, prefix.shape[1] - 1), cond

    # ------------------------------------------------------------------------------------ local side
    def local_inputs(self, context: Tensor, targets: Tensor) -> Tensor:
        """``context: Tensor[N, D]``, ``targets: LongTensor[N, Q]`` -> ``Tensor[N, Q, Dl]`` (teacher forcing)."""
        base = self.local_in(context)
        previous = targets[:, :-1]
        ids = torch.where(previous == PAD_VALUE, torch.full_like(previous, self.local_pad_id),
                          previous + self._local_offsets)
        start = torch.full_like(targets[:, :1], self.local_start_id)
        return base[:, None] + self.local_embedding(torch.cat([start, ids], dim=1))

    def frame_logits(self, condition: Tensor | None, targets: Tensor, batch_size: int | None = None) -> Tensor:
        """``Tensor[B, Q, F, K(+1)]``: logits of every target token given everything before it."""
        batch, levels, frames = targets.shape
        inputs, _ = self.global_inputs(condition, targets[:, :, :-1], batch)
        self.check_length(inputs.shape[1], self.transformer, "global")
        hidden = self.transformer(inputs)
        context = hidden[:, -frames:]  # [B, F, D]: position before each frame
        local = self.local(self.local_inputs(context.flatten(0, 1), targets.transpose(1, 2).flatten(0, 1)))
        logits = torch.einsum("nqd,qkd->nqk", local, self.local_head)  # [B*F, Q, K]
        return logits.view(batch, frames, levels, -1).transpose(1, 2)

    # ------------------------------------------------------------------------------------ sampling
    @torch.inference_mode()
    def sample_frames(self, buffer: Tensor, start: int, condition_for: Callable[[int, int], Tensor | None],
                      window: int, hop: int, capacity: int, *, temperature: float = 1.0, top_k: int | None = None,
                      top_p: float | None = None, generator: torch.Generator | None = None,
                      stop_at_eos: bool = False) -> Tensor:
        """Fill ``buffer[:, :, start:]`` in place, frame by frame (same contract as the flat layout).

        Args:
            buffer: ``LongTensor[B, Q, T]``; frames ``< start`` are known.
            condition_for: ``(window_start, window_end) -> conditioning``.
            window / hop: frames per context window and how far it jumps.
            capacity: global KV cache positions for one window.
            stop_at_eos: (EOS layouts) an item that emits EOS is finished (``-1`` from there on).
        """
        validate_sampling(temperature, top_k, top_p)
        batch, levels, total = buffer.shape
        device = buffer.device
        global_cache = self.reusable_cache("global", self.transformer, batch, capacity, device)
        local_cache = self.reusable_cache("local", self.local, batch, levels, device)
        use_eos = self.layout.with_eos and stop_at_eos
        codes = self.layout.target_vocab
        heads = [self.local_head[q, : codes + int(use_eos and q == levels - 1)] for q in range(levels)]
        offsets = self._local_offsets.tolist()
        target_offsets = self.layout._target_offsets.to(device)
        start_embedding = self.local_embedding.weight[self.local_start_id]
        finished = torch.zeros(batch, dtype=torch.bool, device=device)
        window_begin, context, cond = 0, None, None
        with decode_threads(device), eval_mode(self):
            for frame in range(start, total):
                begin = window_start(frame, window_begin, window, hop)
                if context is None or begin != window_begin:  # (re)encode conditioning + known frames
                    window_begin = begin
                    global_cache.reset()
                    inputs, cond = self.global_inputs(condition_for(begin, min(begin + window, total)),
                                                      buffer[:, :, begin:frame], batch)
                    context = self.transformer(inputs, global_cache)[:, -1]
                local_cache.reset()
                base = self.local_in(context)
                step = base + start_embedding
                for level in range(levels):
                    hidden = self.local.step(step, local_cache)
                    token = sample_logits(F.linear(hidden, heads[level]), temperature, top_k, top_p, generator)
                    buffer[:, level, frame] = token
                    if use_eos:
                        finished |= token == codes
                        buffer[finished, level, frame] = PAD_VALUE
                        if bool(finished.all()):
                            buffer[:, :, frame + 1 :] = PAD_VALUE
                            return buffer
                    if level + 1 < levels:
                        step = base + self.local_embedding(token + offsets[level])
                if frame + 1 == total or window_start(frame + 1, begin, window, hop) != begin:
                    continue  # the next frame re-encodes a new window
                frame_ids = buffer[:, :, frame].clamp_min(0) + target_offsets  # finished items: any valid id
                inputs = self.embedding(frame_ids).sum(dim=1)
                aligned = self.aligned_step(cond, frame + 1 - begin)
                if aligned is not None:
                    inputs = inputs + aligned
                context = self.transformer.step(inputs, global_cache)
        return buffer
