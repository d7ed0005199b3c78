"""The machinery the sequential stages (semantic, coarse, fine) share: embeddings + Transformer + per-level heads over a token layout,
the training loss on target tokens, and the windowed, KV-cached sampling loop.

Per-level heads: level ``q`` scores only its own ``K`` codes (``Tensor[K, D]`` slice), both in training
(the loss is a ``K``-way cross-entropy, so an untrained model starts near ``ln K``) and in sampling (so a
level's sampler can only emit that level's codes, and every one of them stays reachable).
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from audiolm_lib.lm.layouts import PAD_VALUE, FlatLayout
from audiolm_lib.lm.prompt_prior import add_bias
from audiolm_lib.lm.sampling import sample_logits, validate_sampling, window_start
from audiolm_lib.lm.transformer import Transformer, TransformerConfig

# Intra-op threads for incremental decoding on CPU; None keeps the caller's torch.get_num_threads().
# Measured on an idle 2-core machine (dim 256, depth 4, 100 coarse frames): 0.30 s on 2 threads vs 0.45 s
# on 1. On an oversubscribed machine the thread hand-off of these small [B, D] products dominates (8+ ms a
# step on 2 busy cores vs 1.4 ms on 1): there set this to 1, or call torch.set_num_threads(1).
DECODE_THREADS: int | None = None

REDUCTIONS = ("mean", "level", "none")


def reduce_token_losses(losses: Tensor, targets: Tensor, reduction: str) -> Tensor:
    """``losses`` ``Tensor[B, Q, F]`` (0 at padding) of ``targets`` ``LongTensor[B, Q, F]`` (``-1`` = padding) ->
    ``"none"``: as they are; ``"level"``: ``Tensor[Q]`` mean per level; ``"mean"``: the scalar mean, both over
    the non-padding targets only."""
    if reduction == "none":
        return losses
    valid = (targets != PAD_VALUE).to(losses.dtype)
    if reduction == "level":
        return losses.sum(dim=(0, 2)) / valid.sum(dim=(0, 2)).clamp_min(1)
    return losses.sum() / valid.sum().clamp_min(1)


@contextlib.contextmanager
def decode_threads(device: torch.device):
    """Temporarily use :data:`DECODE_THREADS` intra-op threads on CPU, if set (restored on exit)."""
    previous = torch.get_num_threads()
    change = DECODE_THREADS is not None and device.type == "cpu" and previous != DECODE_THREADS
    if change:
        torch.set_num_threads(DECODE_THREADS)
    try:
        yield
    finally:
        if change:
            torch.set_num_threads(previous)


@contextlib.contextmanager
def eval_mode(module: nn.Module):
    """Sample without dropout even if called on a model in training mode (restored on exit)."""
    was_training = module.training
    module.train(False)
    try:
        yield
    finally:
        module.train(was_training)


def check_tokens(name: str, tokens: Tensor, rank: int, vocab: int, *, allow_pad: bool = True) -> Tensor:
    """Validate an integer id tensor: rank, dtype, range ``[0, vocab)`` (``-1`` = padding if allowed)."""
    if not isinstance(tokens, Tensor):
        raise ValueError(f"{name} must be a torch.LongTensor, got {type(tokens).__name__}")
    if tokens.dim() != rank:
        raise ValueError(f"{name} must have {rank} dimensions, got shape {tuple(tokens.shape)}")
    if tokens.dtype.is_floating_point or tokens.dtype.is_complex or tokens.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer token ids, got dtype {tokens.dtype}")
    if tokens.numel():
        low = PAD_VALUE if allow_pad else 0
        bad = (tokens < low) | (tokens >= vocab)
        if bool(bad.any()):
            value = int(tokens[bad][0])
            extra = " (or -1 for padding)" if allow_pad else ""
            raise ValueError(f"{name} ids must be in [0, {vocab}){extra}; found {value}")
    return tokens.long()


class TokenLM(nn.Module):
    """Embedding table + :class:`Transformer` + per-level output heads over a :class:`FlatLayout`.

    Sampling keeps its KV cache on the model between calls (allocating it per call is slow), so one
    model instance should generate one batch at a time (not from several threads at once).
    """

    def __init__(self, layout: FlatLayout, transformer: TransformerConfig, tie_embeddings: bool) -> None:
        super().__init__()
        self.layout = layout
        self.tie_embeddings = tie_embeddings
        dim = transformer.dim
        self.embedding = nn.Embedding(layout.vocab_size, dim)
        self.transformer = Transformer(transformer)
        rows = layout.target_vocab + int(layout.with_eos)
        self.head = None if tie_embeddings else nn.Parameter(torch.empty(layout.target_levels, rows, dim))
        self.reset_token_parameters()

    def reset_token_parameters(self) -> None:
        # small embeddings and heads: initial logits are near zero, so the loss starts near ln(K)
        nn.init.normal_(self.embedding.weight, std=0.02)
        if self.head is not None:
            nn.init.normal_(self.head, std=0.02)

    # ------------------------------------------------------------------------------------------ heads
    def head_weight(self, level: int, with_eos: bool = True) -> Tensor:
        """``Tensor[K(+1), D]``: output rows of target ``level`` (EOS row last, if any and wanted)."""
        start, stop = self.layout.head_rows(level)
        if self.layout.with_eos and not with_eos:
            stop -= 1
        if self.head is None:
            return self.embedding.weight[start:stop]
        return self.head[level, : stop - start]

    def all_head_weights(self) -> Tensor:
        """``Tensor[Q, K(+1), D]`` for every target level at once (training)."""
        if self.head is not None:
            return self.head
        layout = self.layout
        start = layout.target_offsets[0]
        rows = layout.target_vocab + int(layout.with_eos)
        return self.embedding.weight[start : start + layout.target_levels * rows].view(layout.target_levels, rows, -1)

    # ------------------------------------------------------------------------------------------ training
    def target_loss(self, condition: Tensor | None, targets: Tensor, reduction: str = "mean",
                    batch_size: int | None = None) -> Tensor:
        """Cross-entropy of every target token given everything before it.

        Args:
            condition: layout conditioning (``LongTensor[B, Lc, Fc]`` / ``[B, Fc]``) or ``None``.
            targets: ``LongTensor[B, Q, F]`` codes of each target level (``-1`` = padding, ignored).
            reduction: ``"mean"`` -> scalar over non-padding targets; ``"level"`` -> ``Tensor[Q]`` mean per
                level; ``"none"`` -> ``Tensor[B, Q, F]`` (0 at padding).
        """
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        ids = self.layout.sequence(condition, targets, batch_size=batch_size)
        if ids.shape[1] > self.transformer.config.max_seq_len:
            raise ValueError(f"training sequence of {ids.shape[1]} tokens exceeds transformer.max_seq_len="
                             f"{self.transformer.config.max_seq_len}; use shorter crops")
        hidden = self.transformer(self.embedding(ids))
        batch, levels, frames = targets.shape
        cond_len = ids.shape[1] - 1 - levels * frames
        hidden = hidden[:, self.layout.target_positions(cond_len, frames)].reshape(batch, frames, levels, -1)
        logits = torch.einsum("bfqd,qkd->bfqk", hidden, self.all_head_weights())
        labels = targets.transpose(1, 2)
        losses = F.cross_entropy(logits.flatten(0, 2).float(), labels.flatten(), ignore_index=PAD_VALUE, reduction="none")
        losses = losses.view(batch, frames, levels).transpose(1, 2)  # [B, Q, F]
        return reduce_token_losses(losses, targets, reduction)

    # ------------------------------------------------------------------------------------------ sampling
    def _reusable_cache(self, batch: int, capacity: int, device: torch.device):
        """A KV cache kept between ``generate`` calls: allocating (page-faulting) megabytes per call is slow."""
        dtype = self.embedding.weight.dtype
        cache = getattr(self, "_decode_cache", None)
        if cache is None or (cache.batch_size, cache.capacity, cache.keys[0].device, cache.keys[0].dtype) != (
            batch, capacity, device, dtype
        ):
            cache = self.transformer.new_cache(batch, capacity, device=device, dtype=dtype)
            self._decode_cache = cache
        cache.reset()
        return cache

    @torch.inference_mode()
    def sample_frames(
        self,
        buffer: Tensor,
        start: int,
        condition_for: Callable[[int, int], Tensor | None],
        window: int,
        hop: int,
        capacity: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        stop_at_eos: bool = False,
        logit_bias: Tensor | None = None,
    ) -> Tensor:
        """Fill ``buffer[:, :, start:]`` frame by frame, level by level, in place; returns ``buffer``.

        Args:
            buffer: ``LongTensor[B, Q, T]``; frames ``< start`` are known context (prompt).
            start: first frame to generate.
            condition_for: ``(window_start, window_end) -> conditioning`` for the layout (or ``None``).
            window: frames the model sees at once (its training crop); ``hop``: frames the window jumps by.
            capacity: KV cache positions needed for one full window (conditioning + SEP + targets).
            stop_at_eos: (EOS layouts) an item that emits EOS is finished: that position and all later
                ones become ``-1``; sampling stops once every item has finished.
            logit_bias: ``Tensor[B, Q, V]`` added to level ``q``'s logits over its ``V`` codes (EOS untouched),
                e.g. :func:`~audiolm_lib.lm.prompt_prior.prompt_log_prior` times a strength.
        """
        validate_sampling(temperature, top_k, top_p)
        batch, levels, total = buffer.shape
        cache = self._reusable_cache(batch, capacity, buffer.device)
        use_eos = self.layout.with_eos and stop_at_eos
        weights = [self.head_weight(q, with_eos=use_eos) for q in range(levels)]
        offsets = self.layout.target_offsets
        eos_code = self.layout.target_vocab
        finished = torch.zeros(batch, dtype=torch.bool, device=buffer.device)
        window_begin, hidden = 0, None
        with decode_threads(buffer.device), eval_mode(self):
            for frame in range(start, total):
                begin = window_start(frame, window_begin, window, hop)
                if hidden is None or begin != window_begin:  # (re)encode the window: conditioning + known frames
                    window_begin = begin
                    cache.reset()
                    ids = self.layout.sequence(condition_for(begin, min(begin + window, total)),
                                               buffer[:, :, begin:frame], batch_size=batch)
                    hidden = self.transformer(self.embedding(ids), cache)[:, -1]
                for level in range(levels):
                    logits = F.linear(hidden, weights[level])
                    if logit_bias is not None:
                        logits = add_bias(logits, logit_bias[:, level])
                    token = sample_logits(logits, temperature, top_k, top_p, generator)
                    buffer[:, level, frame] = token
                    if use_eos:
                        finished |= token == eos_code
                        buffer[finished, level, frame] = PAD_VALUE
                        if bool(finished.all()):
                            buffer[:, :, frame + 1 :] = PAD_VALUE
                            return buffer
                    last_of_frame = level == levels - 1
                    if last_of_frame and (frame + 1 == total or window_start(frame + 1, begin, window, hop) != begin):
                        continue  # the next frame re-encodes a new window; no step needed
                    hidden = self.transformer.step(self.embedding(token + offsets[level]), cache)
        return buffer
