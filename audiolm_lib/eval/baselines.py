"""What a stage's validation cross-entropy must beat: the uniform guess and a unigram model of the same tokens.

A stage that memorised its training crops can end above both (the shipped models of the first release did):
its validation loss then says it learned nothing that transfers. :func:`stage_baselines` computes, per stage,
the uniform cross-entropy ``ln K`` and the cross-entropy of the training split's unigram distribution (add-one
smoothed) on the validation split, over exactly the tokens the stage predicts: semantic ids (semantic), RVQ
levels ``1..Qc`` (coarse) or ``Qc+1..Qc+Qf`` (fine), averaged over levels as the stages' losses are.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch


def unigram_cross_entropy(train: Sequence[torch.Tensor], valid: Sequence[torch.Tensor], vocab_size: int,
                          smoothing: float = 1.0) -> float:
    """Nats per token of the (smoothed) unigram of ``train`` ids on ``valid`` ids (``LongTensor[N]`` pieces)."""
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    counts = torch.full((vocab_size,), float(smoothing), dtype=torch.float64)
    for piece in train:
        counts += torch.bincount(piece.reshape(-1).long(), minlength=vocab_size)[:vocab_size].double()
    log_probs = torch.log(counts / counts.sum())
    total, number = 0.0, 0
    for piece in valid:
        ids = piece.reshape(-1).long()
        if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
            raise ValueError(f"validation ids must lie in [0, {vocab_size})")
        total -= float(log_probs[ids].sum())
        number += ids.numel()
    if number == 0:
        raise ValueError("no validation tokens")
    return total / number


def stage_baselines(cache: Any, num_coarse: int = 4, num_fine: int = 8) -> dict[str, dict[str, float]]:
    """``{"semantic" | "coarse" | "fine": {"uniform": ln K, "unigram": nats}}`` on a token cache's splits.

    Args:
        cache: a :class:`~audiolm_lib.training.token_cache.TokenCache` (items with ``semantic`` ``LongTensor[S]``,
            ``acoustic`` ``LongTensor[Q, F]`` and a ``split``); ``valid`` items are scored, ``train`` items counted.
    """
    from audiolm_lib.datasets.splits import split_indices

    train_items, valid_items = split_indices(cache)
    if not valid_items:
        raise ValueError("the token cache has no validation items")
    train = [cache[i] for i in train_items]
    valid = [cache[i] for i in valid_items]
    semantic_vocab, codebook = int(cache.semantic_vocab_size), int(cache.codebook_size)
    result = {"semantic": {"uniform": math.log(semantic_vocab),
                           "unigram": unigram_cross_entropy([t["semantic"] for t in train],
                                                            [v["semantic"] for v in valid], semantic_vocab)}}
    levels = {"coarse": range(num_coarse), "fine": range(num_coarse, min(num_coarse + num_fine, int(cache.num_quantizers)))}
    for stage, chosen in levels.items():
        per_level = [unigram_cross_entropy([t["acoustic"][q] for t in train], [v["acoustic"][q] for v in valid], codebook)
                     for q in chosen]
        if per_level:
            result[stage] = {"uniform": math.log(codebook), "unigram": sum(per_level) / len(per_level)}
    return result
