"""Window plans of a windowed generator: which frames each window sees and which it makes.

A model that sees at most ``window`` frames generates a longer stretch window by window; each later window starts
with ``context`` frames already known (the previous windows' output) as its acoustic prompt. Past the first
window that context is the model's own output only, so nothing keeps the voice or the key of the *given* prompt
in view and the continuation drifts (the shipped piano model's level-1 codes settled on one code from 6 s on).
With an ``anchor`` of ``A`` frames, every window also sees the given prompt's last ``A`` frames, put before its
generated context (``A`` frames fewer of it, the same number of new frames): a prompt from another stretch of the
same recording, which ``prompt_elsewhere`` training shows the model.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class Window(NamedTuple):
    """One window: frames ``start .. first_new`` are its context, ``first_new .. end`` it generates; frames
    ``anchor_start .. anchor_end`` (the given prompt's tail, empty unless anchored) go before the context."""

    start: int
    first_new: int
    end: int
    anchor_start: int = 0
    anchor_end: int = 0

    @property
    def anchor(self) -> int:
        """Anchor frames outside ``start .. end``."""
        return self.anchor_end - self.anchor_start

    @property
    def length(self) -> int:
        """Frames the model sees: anchor + context + new."""
        return self.anchor + self.end - self.start

    @property
    def known(self) -> int:
        """Frames of the window given as its prompt (anchor + context)."""
        return self.anchor + self.first_new - self.start

    def frames(self, device=None) -> Tensor:
        """``LongTensor[length]``: indices of the frames the window sees, in the order it sees them."""
        return torch.cat([torch.arange(self.anchor_start, self.anchor_end, device=device),
                          torch.arange(self.start, self.end, device=device)])


def anchored_window(known: int, anchor: int, cursor: int, end: int, context: int) -> Window:
    """The window making frames ``cursor .. end`` that sees the prompt's last ``anchor`` frames (the prompt being
    frames ``< known``), then at most ``context`` frames before the cursor, none before the prompt's end (there they
    would join the anchor anyway)."""
    return Window(max(known, cursor - context), cursor, end, known - anchor, known)


def plan_windows(known: int, total: int, *, window: int, context: int, anchor: int = 0) -> list[Window]:
    """The windows that generate frames ``known .. total`` (none if ``known >= total``).

    ``window``: frames the model sees at most; ``context``: known frames at the start of each later window
    (``< window``); ``anchor``: frames of the given prompt's tail kept in every window's view (``<= context``;
    0: the plain plan, whose last window takes more context instead of fewer new frames).
    """
    if not 0 <= context < window:
        raise ValueError(f"context must be in [0, window={window}), got {context}")
    if not 0 <= anchor <= context:
        raise ValueError(f"anchor must be in [0, context={context}], got {anchor}")
    anchor = min(anchor, known)
    spans, cursor = [], known
    while cursor < total:
        if total <= window:
            spans.append(Window(0, cursor, total))
        elif cursor == known or not anchor or cursor - context <= known - anchor:
            # the plain plan (the anchor, if any, lies inside this window's context)
            start = max(0, min(cursor - context, total - window))
            spans.append(Window(start, cursor, min(total, start + window)))
        else:
            # the anchor takes ``anchor`` frames of the context's share of the window
            end = min(total, cursor + window - context)
            spans.append(anchored_window(known, anchor, cursor, end, context - anchor))
        cursor = spans[-1].end
    return spans
