"""How much of a prompt a model uses, and where to cut it, so work is bounded by the context, not the prompt.

Every stage sees at most its ``config.window_seconds`` of context (a longer prompt is cut to its most recent
window inside the stage anyway). :func:`plan_prompt_cut` therefore keeps only the prompt's last
``context_seconds`` plus a margin for the receptive fields of the codec and the tokenizer: the margin is
encoded and its tokens are dropped, so the kept tokens are those a whole-prompt encoding gives (exactly, for a
causal codec). The cut lies on the frame grid of both token streams, keeping them aligned with each other and
with the frames of the whole prompt. Decoding likewise needs only :func:`decoder_context_frames` of the prompt.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

# codecs that do not state their receptive field (EnCodec's LSTM, spectral codecs) get this much context
DEFAULT_CODEC_CONTEXT_SECONDS = 1.0


@dataclass(frozen=True)
class PromptCut:
    """Keep samples ``[start, end)`` of the prompt, then drop the first ``drop_seconds`` of its tokens."""

    start: int
    drop_seconds: float

    def drop_tokens(self, rate: float) -> int:
        """Tokens of a ``rate`` Hz stream to drop after encoding the kept part (an integer by construction)."""
        return int(round(self.drop_seconds * rate))


NO_CUT = PromptCut(0, 0.0)


def context_seconds(modules: Iterable) -> float | None:
    """The largest ``config.window_seconds`` among ``modules`` (e.g. ``model.modules()``); None if none has one."""
    windows = [float(getattr(getattr(m, "config", None), "window_seconds", 0) or 0) for m in modules]
    windows = [w for w in windows if math.isfinite(w) and w > 0]
    return max(windows) if windows else None


def codec_context_seconds(codec) -> float:
    """Audio before a code frame that the codec's encoder (and, mirrored, its decoder) depends on."""
    field = getattr(codec, "receptive_field", None)
    if isinstance(field, (int, float)) and field > 0:
        return float(field) / float(codec.sample_rate)
    return DEFAULT_CODEC_CONTEXT_SECONDS


def tokenizer_context_seconds(tokenizer) -> float:
    """Audio one semantic token depends on (its feature window), at least one token's hop."""
    window = getattr(tokenizer, "min_samples", 0)
    seconds = float(window) / float(tokenizer.sample_rate) if isinstance(window, (int, float)) else 0.0
    return max(seconds, 1.0 / float(tokenizer.frame_rate))


def frame_grid(sample_rate: int, token_rates: Iterable[float]) -> int:
    """The smallest number of samples at ``sample_rate`` that is a whole number of frames of every stream."""
    grid = Fraction(1)
    for rate in token_rates:
        period = Fraction(int(sample_rate)) / Fraction(float(rate)).limit_denominator(10**6)
        grid = Fraction(math.lcm(grid.numerator, period.numerator), math.gcd(grid.denominator, period.denominator))
    return int(grid.numerator)  # the least integer multiple of the (possibly fractional) common period


def plan_prompt_cut(num_samples: int, sample_rate: int, context: float | None, margin: float,
                    token_rates: Iterable[float]) -> PromptCut:
    """Where to cut a ``num_samples`` prompt at ``sample_rate``: keep ``context`` seconds (+ ``margin``) before
    its end, starting on the streams' common frame grid; no cut if the prompt is not longer than that."""
    if context is None or num_samples <= 0:
        return NO_CUT
    grid = frame_grid(sample_rate, list(token_rates))
    keep = math.ceil(context * sample_rate / grid) * grid
    margin_samples = math.ceil(margin * sample_rate / grid) * grid
    start = (num_samples - keep - margin_samples) // grid * grid
    if start <= 0:
        return NO_CUT
    return PromptCut(start, margin_samples / sample_rate)


def decoder_context_frames(codec) -> int:
    """Code frames before the first output frame that decoding must include (the decoder's receptive field)."""
    return int(math.ceil(codec_context_seconds(codec) * float(codec.frame_rate))) + 1
