"""Grow a trained model's Transformer deeper without changing what it computes ("block expansion", LLaMA Pro, Wu et
al. 2024).

A stage that has levelled off at its size (issue 20: the piano generator's 4-level legs at 2.88 nats, 256 wide and
4 deep) would otherwise have to be trained again from nothing to be made larger, far past a session's budget on a
CPU. Here each new block is a copy of the block before it with its two output projections (attention ``out``, the
feed-forward's ``ff_out`` and its bias) set to zero: in a pre-norm residual block that adds exactly nothing, so the
deeper model starts with the trained one's outputs (tested) and fine-tuning only has to learn what the new blocks
add. Copies rather than fresh weights give the new blocks' inner layers gradients that mean something from the
first step. New blocks are spread evenly between the old ones, as in the paper.
"""
from __future__ import annotations

import copy
import dataclasses

from torch import nn

# the projections that write into the residual stream; zero -> the block is the identity
_RESIDUAL_OUTPUTS = ("out.weight", "ff_out.weight", "ff_out.bias")


def expansion_plan(depth: int, new_depth: int) -> list[int | None]:
    """For each block of the deeper model, the old block it takes (an int) or None for a new identity block placed
    after the old block before it: ``expansion_plan(4, 6) == [0, 1, None, 2, 3, None]``."""
    if depth < 1 or new_depth < depth:
        raise ValueError(f"cannot grow a {depth}-block Transformer to {new_depth} blocks (more blocks, not fewer)")
    added, plan = new_depth - depth, []
    for old in range(depth):
        plan.append(old)
        # after every depth/added old blocks one new block (the last one closes the stack)
        while len(plan) - (old + 1) < added * (old + 1) // depth:
            plan.append(None)
    return plan


def deepened(model: nn.Module, depth: int) -> nn.Module:
    """A copy of ``model`` (a stage with ``.transformer.blocks`` and ``config.transformer.depth``) whose Transformer has
    ``depth`` blocks, computing the same function as ``model``; ``trained_on`` provenance is kept."""
    config = getattr(model, "config", None)
    if not hasattr(model, "transformer") or not dataclasses.is_dataclass(getattr(config, "transformer", None)):
        raise TypeError(f"{type(model).__name__} has no Transformer configured by config.transformer to deepen")
    old_depth = int(config.transformer.depth)
    plan = expansion_plan(old_depth, int(depth))
    new_config = dataclasses.replace(config, transformer=dataclasses.replace(config.transformer, depth=int(depth)))
    grown = type(model)(new_config)
    prefix = "transformer.blocks."
    state = {key: value for key, value in model.state_dict().items() if not key.startswith(prefix)}
    source = 0
    for index, old in enumerate(plan):
        source = source if old is None else old  # a new block copies the old block before it
        for name, value in model.transformer.blocks[source].state_dict().items():
            copied = value.clone()
            if old is None and name in _RESIDUAL_OUTPUTS:
                copied.zero_()
            state[f"{prefix}{index}.{name}"] = copied
    grown.load_state_dict(state)  # strict: every weight of the grown model is set
    if getattr(model, "trained_on", None):
        grown.trained_on = copy.deepcopy(model.trained_on)
    return grown

