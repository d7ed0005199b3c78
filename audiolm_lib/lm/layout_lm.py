"""The stages' base class: the flat layout's :class:`TokenLM`, or the model another layout needs.

A stage builds its layout from ``config.layout`` and hands it here. The flat layout keeps
:class:`TokenLM`'s parameters on the stage itself (checkpoints unchanged); the other layouts build
their own model (:attr:`core`: multi-scale global/local, delay pattern) and the stage's
``target_loss`` / ``sample_frames`` go to it, with the same signatures and return shapes, so the stages
and :class:`~audiolm_lib.AudioLM` work unchanged with any layout.
"""
from __future__ import annotations

from torch import Tensor, nn

from audiolm_lib.lm.base import TokenLM
from audiolm_lib.lm.transformer import TransformerConfig


def layout_model_class(layout) -> type[nn.Module] | None:
    """The model class of a non-flat layout (``None`` for the flat layout)."""
    if layout.name == "multiscale":
        from audiolm_lib.lm.multiscale import MultiScaleLM

        return MultiScaleLM
    if layout.name == "delay":
        from audiolm_lib.lm.delay import DelayLM

        return DelayLM
    return None


class LayoutLM(TokenLM):
    """:class:`TokenLM` for the flat layout; for other layouts a thin front of their model.

    Args:
        layout: the stage's token layout.
        transformer: the (global) Transformer config.
        tie_embeddings: output heads share input embeddings (flat layout only).
        local_transformer: the multi-scale layout's local model (``None``: one block of half the global width).
    """

    def __init__(self, layout, transformer: TransformerConfig, tie_embeddings: bool,
                 local_transformer: TransformerConfig | None = None) -> None:
        model_class = layout_model_class(layout)
        if model_class is None:
            super().__init__(layout, transformer, tie_embeddings)
            self.core = None
            return
        nn.Module.__init__(self)
        self.layout = layout
        self.core = model_class(layout, transformer, tie_embeddings, local_transformer)

    def target_loss(self, condition: Tensor | None, targets: Tensor, reduction: str = "mean",
                    batch_size: int | None = None) -> Tensor:
        if self.core is None:
            return super().target_loss(condition, targets, reduction, batch_size)
        return self.core.target_loss(condition, targets, reduction, batch_size)

    def sample_frames(self, *args, **kwargs) -> Tensor:
        if self.core is None:
            return super().sample_frames(*args, **kwargs)
        return self.core.sample_frames(*args, **kwargs)

    def frame_logits(self, condition: Tensor | None, targets: Tensor) -> Tensor:
        """``Tensor[B, Q, F, K(+1)]`` teacher-forced logits (multi-scale and delay layouts)."""
        if self.core is None:
            raise NotImplementedError("frame_logits is provided by the multiscale and delay layouts")
        return self.core.frame_logits(condition, targets)
