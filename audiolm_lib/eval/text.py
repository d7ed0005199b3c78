"""Word and character error rates (Levenshtein distance) on normalised text.

Normalisation is the usual ASR-evaluation one, kept small: lowercase, a few spoken abbreviations
written out ("mr" -> "mister"), whole numbers below a million written as words (whisper writes "10",
transcripts say "ten"), apostrophes dropped, every other punctuation mark turned into a space.
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
_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})*(?![\w]|[.,]\d)|(?<![\w.,])\d+(?![\w]|[.,]\d)")
_APOSTROPHES = re.compile(r"[’'`]")
_NOT_WORD = re.compile(r"[^\w\s]|_")


def number_to_words(number: int) -> str:
    """``0 <= number < 1_000_000`` -> English words: ``342`` -> ``"three hundred forty two"``."""
    if not 0 <= number < 1_000_000:
        raise ValueError(f"number_to_words handles 0 to 999999, got {number}")
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_to_words(rest)}" if rest else "")
    thousands, rest = divmod(number, 1000)
    return f"{number_to_words(thousands)} thousand" + (f" {number_to_words(rest)}" if rest else "")


def _spell_number(match: re.Match) -> str:
    value = int(match.group(0).replace(",", ""))
    return f" {number_to_words(value)} " if value < 1_000_000 else match.group(0)


def normalize_text(text: str) -> str:
    """Lowercase, drop apostrophes, turn punctuation into spaces, expand abbreviations, squeeze spaces.

    ``"Mr. Dashwood's ill-disposed!"`` -> ``"mister dashwoods ill disposed"``; ``"4. Queen"`` -> ``"four queen"``.
    Decimals and numbers of a million or more stay digits.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected text as str, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text).lower()
    text = _NUMBER.sub(_spell_number, text)
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
