"""Word and character error rates (Levenshtein distance) on normalised text.

Normalisation is the usual ASR-evaluation one, kept small: lowercase, a few spoken abbreviations
written out ("mr" -> "mister"), apostrophes dropped, every other punctuation mark turned into a space.
Numbers are left as they are (writing them as words is out of scope).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Sequence

# Whisper writes these abbreviations; transcripts usually spell them out.
_ABBREVIATIONS = {
    "mr": "mister",
    "mrs": "missus",
    "ms": "miss",
    "dr": "doctor",
    "st": "saint",
    "vs": "versus",
}
_APOSTROPHES = re.compile(r"[’'`]")
_NOT_WORD = re.compile(r"[^\w\s]|_")


def normalize_text(text: str) -> str:
    """Lowercase, drop apostrophes, turn punctuation into spaces, expand abbreviations, squeeze spaces.

    ``"Mr. Dashwood's ill-disposed!"`` -> ``"mister dashwoods ill disposed"``.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected text as str, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text).lower()
    text = _APOSTROPHES.sub("", text)
    text = _NOT_WORD.sub(" ", text)
    words = [_ABBREVIATIONS.get(word, word) for word in text.split()]
    return " ".join(words)


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance: fewest substitutions + deletions + insertions turning ``reference`` into ``hypothesis``."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_item in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp_item in enumerate(hypothesis, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref_item != hyp_item),  # substitution or match
            )
        previous = current
    return previous[-1]


def _error_rate(reference: Sequence, hypothesis: Sequence, what: str) -> float:
    if len(reference) == 0:
        raise ValueError(f"the reference transcript has no {what} after normalisation; cannot compute an error rate")
    return edit_distance(reference, hypothesis) / len(reference)


def word_error_rate(reference: str, hypothesis: str, normalize: bool = True) -> float:
    """WER = word-level edit distance / number of reference words (can exceed 1 with many insertions)."""
    if normalize:
        reference, hypothesis = normalize_text(reference), normalize_text(hypothesis)
    return _error_rate(reference.split(), hypothesis.split(), "words")


def char_error_rate(reference: str, hypothesis: str, normalize: bool = True) -> float:
    """CER = character-level edit distance / number of reference characters (spaces between words count)."""
    if normalize:
        reference, hypothesis = normalize_text(reference), normalize_text(hypothesis)
    else:
        reference, hypothesis = " ".join(reference.split()), " ".join(hypothesis.split())
    return _error_rate(reference, hypothesis, "characters")
