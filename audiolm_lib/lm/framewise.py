"""What the frame-per-position layouts (multi-scale, delay) share: one global position per frame.

The flat layout spends one Transformer position per token (``Q`` per frame). The multi-scale and delay
layouts spend one per frame: a frame's input is the **sum** of its levels' embeddings (UniAudio,
MusicGen). This module owns the pieces both need, so each layout module holds only its own ordering:

* a joint-vocabulary embedding table (ids from :class:`~audiolm_lib.lm.layouts.FlatLayout`'s
  arithmetic, so conditioning, every level and the special tokens never collide);
* conditioning positions: ``[B, Lc, Fc]`` -> ``Tensor[B, Fc, D]`` (levels summed per frame);
* the *aligned* conditioning of the fine stage: coarse frame ``t`` is also added to the position that
  predicts target frame ``t``. Positions are relative (rotary), so without it the model would have to
  find "the coarse frame that belongs to me" at a distance that depends on the window length;
* the loss reductions shared with the flat layout (``mean`` / ``level`` / ``none``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from audiolm_lib.lm.base import REDUCTIONS, reduce_token_losses
from audiolm_lib.lm.layouts import PAD_VALUE, FlatLayout
from audiolm_lib.lm.transformer import Transformer, TransformerConfig


class FramewiseLayout(FlatLayout):
    """:class:`FlatLayout`'s vocabulary plus an EMPTY id (a level with no token at this position).

    Args (as :class:`FlatLayout`) and ``aligned_condition``: the conditioning is frame-aligned with the
    targets (fine stage: coarse codes of the same frames), so it is also added per target frame.
    """

    name = "framewise"
    supports_aligned_condition = True

    def __init__(self, condition_levels: int, condition_vocab: int, target_levels: int, target_vocab: int,
                 with_eos: bool = False, aligned_condition: bool = False) -> None:
        super().__init__(condition_levels, condition_vocab, target_levels, target_vocab, with_eos)
        if aligned_condition and condition_levels == 0:
            raise ValueError("aligned_condition needs conditioning levels")
        self.aligned_condition = aligned_condition
        self.empty_id = self.vocab_size
        self.vocab_size += 1

    def level_ids(self, tokens: Tensor, offsets: Tensor) -> Tensor:
        """``LongTensor[B, L, F]`` codes (``-1`` = PAD) -> ``LongTensor[B, F, L]`` joint ids."""
        offsets = offsets.to(tokens.device)[None, :, None]
        ids = torch.where(tokens == PAD_VALUE, torch.full_like(tokens, self.pad_id), tokens + offsets)
        return ids.transpose(1, 2)


class FramewiseLM(nn.Module):
    """Joint embedding table + a "global" :class:`Transformer` with one position per frame.

    Subclasses define the target ordering (:meth:`frame_logits`) and the sampling loop.
    """

    def __init__(self, layout: FramewiseLayout, transformer: TransformerConfig, tie_embeddings: bool) -> None:
        super().__init__()
        if tie_embeddings:
            raise ValueError(f"tie_embeddings is only supported with the flat layout, not {layout.name!r}")
        self.layout = layout
        self.embedding = nn.Embedding(layout.vocab_size, transformer.dim)
        self.transformer = Transformer(transformer)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self._caches: dict[str, object] = {}

    # ------------------------------------------------------------------------------------ embeddings
    def embed_levels(self, tokens: Tensor, offsets: Tensor) -> Tensor:
        """``LongTensor[B, L, F]`` -> ``Tensor[B, F, D]``: each frame's level embeddings summed."""
        return self.embedding(self.layout.level_ids(tokens, offsets)).sum(dim=2)

    def embed_condition(self, condition: Tensor | None) -> Tensor | None:
        """``LongTensor[B, Lc, Fc]`` / ``[B, Fc]`` -> ``Tensor[B, Fc, D]`` (``None`` without conditioning)."""
        if condition is None or self.layout.condition_levels == 0:
            return None
        if condition.dim() == 2:
            condition = condition[:, None]
        return self.embed_levels(condition, self.layout._condition_offsets)

    def special(self, token_id: int, batch: int, length: int = 1) -> Tensor:
        """``Tensor[B, length, D]``: the embedding of a special token repeated."""
        return self.embedding.weight[token_id].expand(batch, length, -1)

    def prefix(self, condition: Tensor | None, batch: int) -> tuple[Tensor, Tensor | None]:
        """``[conditioning] [SEP]`` embeddings ``Tensor[B, Fc + 1, D]``, and the conditioning alone."""
        cond = self.embed_condition(condition)
        sep = self.special(self.layout.sep_id, batch)
        return (sep if cond is None else torch.cat([cond, sep], dim=1)), cond

    def add_aligned(self, inputs: Tensor, cond: Tensor | None, first: int) -> Tensor:
        """Add conditioning frame ``j`` to the ``j``-th position from ``first`` (fine stage), in as far as both exist.

        ``inputs``: ``Tensor[B, L, D]``; ``cond``: ``Tensor[B, Fc, D]``. Returns a new tensor.
        """
        if not self.layout.aligned_condition or cond is None:
            return inputs
        count = min(cond.shape[1], inputs.shape[1] - first)
        if count <= 0:
            return inputs
        pad = (0, 0, first, inputs.shape[1] - first - count)
        return inputs + F.pad(cond[:, :count], pad)

    def aligned_step(self, cond: Tensor | None, index: int) -> Tensor | None:
        """``Tensor[B, D]``: aligned conditioning frame ``index`` (``None`` if absent or not aligned)."""
        if not self.layout.aligned_condition or cond is None or index >= cond.shape[1]:
            return None
        return cond[:, index]

    # ------------------------------------------------------------------------------------ helpers
    def reusable_cache(self, name: str, transformer: Transformer, batch: int, capacity: int, device: torch.device):
        """A KV cache kept between ``generate`` calls (allocating megabytes per call is slow); reset."""
        dtype = self.embedding.weight.dtype
        cache = self._caches.get(name)
        if cache is None or (cache.batch_size, cache.capacity, cache.keys[0].device, cache.keys[0].dtype) != (
            batch, capacity, device, dtype
        ):
            cache = transformer.new_cache(batch, capacity, device=device, dtype=dtype)
            self._caches[name] = cache
        cache.reset()
        return cache

    def check_length(self, length: int, transformer: Transformer, what: str) -> None:
        if length > transformer.config.max_seq_len:
            raise ValueError(f"{what} sequence of {length} positions exceeds max_seq_len="
                             f"{transformer.config.max_seq_len}; use shorter crops")

    def target_loss(self, condition: Tensor | None, targets: Tensor, reduction: str = "mean",
                    batch_size: int | None = None) -> Tensor:
        """Cross-entropy of every target token; same contract as the flat layout's ``target_loss``.

        Args:
            condition: ``LongTensor[B, Lc, Fc]`` / ``[B, Fc]`` or ``None``.
            targets: ``LongTensor[B, Q, F]`` (``-1`` = padding, ignored).
            reduction: ``"mean"`` scalar, ``"level"`` ``Tensor[Q]``, ``"none"`` ``Tensor[B, Q, F]``.
        """
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        logits = self.frame_logits(condition, targets, batch_size=batch_size)  # [B, Q, F, K]
        batch, levels, frames = targets.shape
        losses = F.cross_entropy(logits.flatten(0, 2).float(), targets.flatten(), ignore_index=PAD_VALUE,
                                 reduction="none").view(batch, levels, frames)
        return reduce_token_losses(losses, targets, reduction)

    def frame_logits(self, condition: Tensor | None, targets: Tensor, batch_size: int | None = None) -> Tensor:
        """``Tensor[B, Q, F, K(+1)]``: the logits each target token is trained on (teacher forcing)."""
        raise NotImplementedError
