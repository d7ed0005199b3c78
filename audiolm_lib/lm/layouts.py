"""Token layouts: how a stage's conditioning and target tokens become one Transformer sequence.

A layout decides three things, and nothing else:

* the joint vocabulary: every stream (semantic ids, each RVQ level, special tokens) gets its own id
  range, so special tokens never collide with codes and the same code at two levels is two tokens;
* the sequence: ``[conditioning] [SEP] [targets]`` with targets ordered frame-major;
* which positions predict which target and from which vocabulary slice (a level's head only scores
  that level's codes, so a sampler can only emit codes of the level it is generating).

The ``flat`` layout is the paper's; ``multiscale`` (global/local, :mod:`audiolm_lib.lm.multiscale`) and
``delay`` (MusicGen delay pattern, :mod:`audiolm_lib.lm.delay`) spend one position per frame. Each is a
class registered in :data:`LAYOUTS`, chosen by a stage config's ``layout`` field.

Stage layouts (``K`` codes per level, ``V`` semantic ids):

* semantic: ``[BOS] s_1 s_2 ...`` (no conditioning; BOS plays the separator), optional EOS target;
* coarse:   ``[s_a .. s_b] [SEP] [c_1^1 .. c_1^Qc] [c_2^1 ..] ...``;
* fine:     ``[c_1^1 .. c_1^Qc] [c_2^1 ..] ... [SEP] [c_1^Qc+1 .. c_1^Q] ...``.

The fine stage gets a SEP too: positions are relative (rotary), so without it the model could not tell
where the coarse window ends and the first fine token is due.

Padding: ``-1`` anywhere in conditioning or targets is a PAD token, never a target (batches of
right-padded crops).
"""
from __future__ import annotations

import importlib

import torch
from torch import Tensor

PAD_VALUE = -1


class FlatLayout:
    """``[conditioning frames x levels] [SEP] [target frames x levels]`` over one joint vocabulary.

    Vocabulary order: conditioning levels (``condition_vocab`` ids each), target levels
    (``target_vocab`` ids each), EOS (if ``with_eos``), SEP, PAD. EOS sits right after the last target
    level so a tied output head for the last level can score it as one more row.

    Args:
        condition_levels: streams interleaved per conditioning frame (1 for semantic ids, ``Qc`` for
            coarse codes, 0 for none).
        condition_vocab: ids per conditioning level.
        target_levels: levels generated per frame.
        target_vocab: codes per target level.
        with_eos: add an EOS token the last level can emit (the semantic stage).
    """

    name = "flat"

    def __init__(self, condition_levels: int, condition_vocab: int, target_levels: int, target_vocab: int,
                 with_eos: bool = False) -> None:
        if condition_levels < 0 or target_levels < 1 or target_vocab < 1:
            raise ValueError("need condition_levels >= 0, target_levels >= 1 and target_vocab >= 1")
        if condition_levels and condition_vocab < 1:
            raise ValueError("condition_vocab must be positive when there are conditioning levels")
        self.condition_levels, self.condition_vocab = condition_levels, condition_vocab
        self.target_levels, self.target_vocab = target_levels, target_vocab
        if with_eos and target_levels != 1:
            raise ValueError("an EOS token is only supported with a single target level")
        self.with_eos = with_eos
        first_target = condition_levels * condition_vocab
        self.target_offsets = [first_target + q * target_vocab for q in range(target_levels)]
        cursor = first_target + target_levels * target_vocab
        self.eos_id = cursor if with_eos else None
        cursor += int(with_eos)
        self.sep_id, self.pad_id = cursor, cursor + 1
        self.vocab_size = cursor + 2
        self._condition_offsets = torch.arange(self.condition_levels) * self.condition_vocab
        self._target_offsets = torch.tensor(self.target_offsets, dtype=torch.long)

    # ------------------------------------------------------------------------------------- sequences
    def head_rows(self, level: int) -> tuple[int, int]:
        """``(start, stop)`` of the vocabulary slice scored at target ``level`` (EOS included for the last)."""
        start = self.target_offsets[level]
        stop = start + self.target_vocab + int(self.with_eos and level == self.target_levels - 1)
        return start, stop

    def condition_ids(self, condition: Tensor | None) -> Tensor | None:
        """``LongTensor[B, Lc, F]`` (levels x frames; ``[B, F]`` for one level) -> ``LongTensor[B, F * Lc]``."""
        if condition is None or self.condition_levels == 0:
            return None
        if condition.dim() == 2:
            condition = condition[:, None]
        return self._offset(condition, self._condition_offsets)

    def target_ids(self, targets: Tensor) -> Tensor:
        """``LongTensor[B, Q, F]`` codes -> ``LongTensor[B, F * Q]`` joint ids, frame-major."""
        return self._offset(targets, self._target_offsets)

    def _offset(self, tokens: Tensor, offsets: Tensor) -> Tensor:
        offsets = offsets.to(tokens.device)[None, :, None]
        ids = torch.where(tokens == PAD_VALUE, torch.full_like(tokens, self.pad_id), tokens + offsets)
        return ids.transpose(1, 2).reshape(tokens.shape[0], -1)

    def sequence(self, condition: Tensor | None, targets: Tensor | None, batch_size: int | None = None) -> Tensor:
        """Full sequence ``[condition] [SEP] [targets]``, ``LongTensor[B, L]``.

        ``condition``: ``LongTensor[B, Lc, Fc]`` / ``[B, Fc]`` or ``None``; ``targets``: ``LongTensor[B, Q, F]``
        or ``None`` (a generation prefix ending in SEP). ``batch_size`` is needed only when both are ``None``.
        """
        parts = []
        cond = self.condition_ids(condition)
        reference = cond if cond is not None else targets
        if reference is None and batch_size is None:
            raise ValueError("sequence() needs a condition, targets or batch_size")
        batch = reference.shape[0] if reference is not None else batch_size
        device = reference.device if reference is not None else None
        if cond is not None:
            parts.append(cond)
        parts.append(torch.full((batch, 1), self.sep_id, dtype=torch.long, device=device))
        if targets is not None and targets.shape[-1] > 0:
            parts.append(self.target_ids(targets))
        return torch.cat(parts, dim=1)

    def target_positions(self, condition_length: int, num_frames: int) -> slice:
        """Sequence positions whose outputs predict the ``num_frames * Q`` targets (frame-major).

        Target ``j`` sits at ``condition_length + 1 + j`` and is predicted from the position before it.
        """
        start = condition_length
        return slice(start, start + num_frames * self.target_levels)

    def sequence_length(self, condition_frames: int, target_frames: int) -> int:
        return condition_frames * self.condition_levels + 1 + target_frames * self.target_levels


# other layouts by "module:Class", imported on first use (their modules import this one)
LAYOUTS: dict[str, type | str] = {
    "flat": FlatLayout,
    "multiscale": "audiolm_lib.lm.multiscale:MultiScaleLayout",
    "delay": "audiolm_lib.lm.delay:DelayLayout",
}


def build_layout(name: str, *, aligned_condition: bool = False, **dims) -> FlatLayout:
    """Instantiate the layout called ``name`` (a stage config's ``layout`` field).

    ``aligned_condition``: the conditioning is frame-aligned with the targets (fine stage); layouts with
    one position per frame add it per frame, the flat layout has no use for it.
    """
    if name not in LAYOUTS:
        raise ValueError(f"unknown token layout {name!r}; known layouts: {sorted(LAYOUTS)}")
    layout_class = LAYOUTS[name]
    if isinstance(layout_class, str):
        module, _, attribute = layout_class.partition(":")
        layout_class = getattr(importlib.import_module(module), attribute)
    if getattr(layout_class, "supports_aligned_condition", False):
        dims["aligned_condition"] = aligned_condition
    return layout_class(**dims)
