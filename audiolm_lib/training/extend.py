"""A trained model given new parts that start neutral: the same function until fine-tuned.

The parallel generator's prompt summary (its output projection zero) and learned prompt prior (its scales zero) add
nothing at their initial values, so a trained generator can be given them and tuned, as :mod:`deepen` grows one
deeper, instead of being trained again from nothing.
"""
from __future__ import annotations

import copy
import dataclasses

from torch import nn

# the settings that add parts starting neutral, and the weight names those parts own
NEUTRAL_PARTS = {"prompt_summary": ("prompt_summary.",), "prompt_prior_learned": ("prompt_prior_scale",)}


def extended(model: nn.Module, **settings: bool) -> nn.Module:
    """A copy of ``model`` with the parts of ``settings`` (keys of :data:`NEUTRAL_PARTS`) turned on, every trained
    weight kept and the new ones at their neutral start; ``trained_on`` provenance is kept."""
    config = getattr(model, "config", None)
    unknown = sorted(set(settings) - set(NEUTRAL_PARTS))
    if unknown:
        raise ValueError(f"no neutral part is named {unknown}; known: {sorted(NEUTRAL_PARTS)}")
    if not dataclasses.is_dataclass(config) or any(not hasattr(config, name) for name in settings):
        raise TypeError(f"{type(model).__name__} has no {', '.join(sorted(settings))} setting")
    grown = type(model)(dataclasses.replace(config, **settings))
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    owned = tuple(prefix for name, on in settings.items() if on for prefix in NEUTRAL_PARTS[name])
    if unexpected or any(not key.startswith(owned) for key in missing):
        raise ValueError(f"weights do not fit the extended model: missing {missing}, unexpected {unexpected}")
    if getattr(model, "trained_on", None):
        grown.trained_on = copy.deepcopy(model.trained_on)
    return grown
