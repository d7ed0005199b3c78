"""Token-level validation loss and perplexity of one language-model stage."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Callable

import torch


def _loss_and_count(output: Any) -> tuple[torch.Tensor, float | None]:
    """Accept a scalar loss, ``(loss, num_tokens)``, ``{"loss": ..., "num_tokens": ...}`` or an object with ``.loss``."""
    count = None
    if isinstance(output, Mapping):
        if "loss" not in output:
            raise ValueError(f"the stage returned a mapping without 'loss' (keys: {sorted(output)})")
        loss, count = output["loss"], output.get("num_tokens")
    elif isinstance(output, (tuple, list)):
        if len(output) != 2:
            raise ValueError(f"the stage returned a sequence of {len(output)} items; expected (loss, num_tokens)")
        loss, count = output
    elif hasattr(output, "loss") and not isinstance(output, torch.Tensor):
        loss = output.loss
    else:
        loss = output
    loss = torch.as_tensor(loss)
    if loss.numel() != 1 or not loss.dtype.is_floating_point:
        raise ValueError(f"the stage must return a scalar mean cross-entropy, got {loss.dtype} {tuple(loss.shape)}")
    if count is not None:
        count = float(count)
        if count <= 0:
            raise ValueError(f"num_tokens must be positive, got {count}")
    return loss.detach().double().reshape(()), count


@torch.no_grad()
def stage_perplexity(
    stage_model: Callable[..., Any],
    batches: Iterable[Any],
    max_batches: int | None = None,
) -> dict:
    """Mean cross-entropy (nats per token) and perplexity = exp(loss) over validation batches.

    Args:
        stage_model: a stage (``SemanticLM``, ``CoarseLM``, ``FineLM``) or any callable returning the mean
            cross-entropy of a batch: a scalar tensor, ``(loss, num_tokens)``, a dict with ``loss`` (and
            optionally ``num_tokens``) or an object with ``.loss``. With token counts the mean is weighted
            by them, otherwise every batch counts equally.
        batches: each batch is passed as ``stage_model(**batch)`` for a mapping, ``stage_model(*batch)``
            for a tuple/list (e.g. ``(semantic[B, S], coarse[B, Qc, F])``) and ``stage_model(batch)`` otherwise.
        max_batches: stop after this many.

    Returns:
        ``{"loss", "perplexity", "num_batches"}`` plus ``num_tokens`` when the stage reported counts.
    """
    from tqdm.auto import tqdm

    was_training = getattr(stage_model, "training", None)
    if was_training:
        stage_model.eval()  # no dropout while measuring
    weighted_sum, token_count, plain_sum, all_counted, num_batches = 0.0, 0.0, 0.0, True, 0
    try:
        for batch in tqdm(batches, desc="perplexity", unit="batch", leave=False, total=max_batches):
            if max_batches is not None and num_batches >= max_batches:
                break
            if isinstance(batch, Mapping):
                output = stage_model(**batch)
            elif isinstance(batch, (tuple, list)):
                output = stage_model(*batch)
            else:
                output = stage_model(batch)
            loss, count = _loss_and_count(output)
            if not torch.isfinite(loss):
                raise ValueError(f"batch {num_batches} gave a non-finite loss ({loss.item()})")
            plain_sum += loss.item()
            if count is None:
                all_counted = False
            else:
                weighted_sum += loss.item() * count
                token_count += count
            num_batches += 1
    finally:
        if was_training:
            stage_model.train()
    if num_batches == 0:
        raise ValueError("no validation batches were given; cannot compute perplexity")
    # Token-weighted when every batch reported its count, else a plain mean over batches.
    mean_loss = weighted_sum / token_count if all_counted else plain_sum / num_batches
    result = {"loss": mean_loss, "perplexity": math.exp(min(mean_loss, 700.0)), "num_batches": num_batches}
    if all_counted:
        result["num_tokens"] = int(token_count)
    return result
