"""Rendering variants of a piano piece: tempo, velocity scale, transposition and soundfont, named ``piece@...``.

A variant's name keeps its piece in front of the first ``@`` (``"bach_bwv66.6@t0.93@v1.10@tr+2@fluid"``), so
:func:`audiolm_lib.datasets.splits.piece_split` puts every variant of a piece in that piece's split. The plain
rendering (tempo 1, velocity 1, no transposition, the first training soundfont) has no suffix at all.

Soundfonts are found by name: ``TimGM6mb`` (inside ``pretty_midi``), ``FluidR3_GM`` (Debian
``fluid-soundfont-gm``), the held-out ``sf_GMbank`` (Debian ``csound-soundfont``), which no training build
may use (:data:`audiolm_lib.datasets.splits.HELDOUT_SOUNDFONT`), and ``MuseScore_General_Full`` (Debian
``musescore-general-soundfont-lossless``), which plays validation pieces only
(:data:`audiolm_lib.datasets.splits.VALIDATION_SOUNDFONT`).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from audiolm_lib.datasets.splits import HELDOUT_SOUNDFONT, TRAIN_SOUNDFONTS, VALIDATION_SOUNDFONT

SF2_FOLDERS = ("/usr/share/sounds/sf2", "/usr/local/share/sounds/sf2")
SOUNDFONT_TAGS = {"TimGM6mb": "tim", "FluidR3_GM": "fluid", "sf_GMbank": "gmbank", VALIDATION_SOUNDFONT: "msgen"}
SOUNDFONT_PACKAGES = {"TimGM6mb": "pip: pretty_midi", "FluidR3_GM": "apt: fluid-soundfont-gm",
                      "sf_GMbank": "apt: csound-soundfont", VALIDATION_SOUNDFONT: "apt: musescore-general-soundfont-lossless"}


def soundfont_file(name: str | None = None) -> Path:
    """The ``.sf2`` file of soundfont ``name`` (default ``TimGM6mb``, the one inside ``pretty_midi``).

    Raises:
        FileNotFoundError: not installed (the message names the package to install).
        ValueError: an unknown name.
    """
    name = name or TRAIN_SOUNDFONTS[0]
    if name not in SOUNDFONT_TAGS:
        raise ValueError(f"unknown soundfont {name!r}; known: {', '.join(SOUNDFONT_TAGS)}")
    if name == "TimGM6mb":
        import pretty_midi

        candidates = [Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"]
    else:
        candidates = [Path(folder) / f"{name}.sf2" for folder in SF2_FOLDERS]
    for path in candidates:
        if path.exists():
            return path
    raise FileNotFoundError(f"soundfont {name} not found at {candidates[0]}: install it ({SOUNDFONT_PACKAGES[name]})")


@dataclass(frozen=True)
class Variant:
    """How one rendering of a piece differs from the score: play ``tempo`` x faster, velocities x ``velocity``,
    ``transpose`` semitones up, on ``soundfont``."""

    tempo: float = 1.0
    velocity: float = 1.0
    transpose: int = 0
    soundfont: str = TRAIN_SOUNDFONTS[0]

    def suffix(self) -> str:
        """``""`` for the plain rendering, else ``"@t0.93@v1.10@tr+2@fluid"`` (only what differs)."""
        parts = []
        if self.tempo != 1.0:
            parts.append(f"t{self.tempo:.2f}")
        if self.velocity != 1.0:
            parts.append(f"v{self.velocity:.2f}")
        if self.transpose:
            parts.append(f"tr{self.transpose:+d}")
        if self.soundfont != TRAIN_SOUNDFONTS[0]:
            parts.append(SOUNDFONT_TAGS[self.soundfont])
        return "".join("@" + p for p in parts)

    def apply(self, notes: list, max_seconds: float | None = None) -> list:
        """The notes as this variant plays them (``NoteEvent`` in, ``NoteEvent`` out), cut at ``max_seconds``."""
        played = []
        for note in notes:
            start, end = note.start / self.tempo, note.end / self.tempo
            if max_seconds is not None:
                if start >= max_seconds:
                    continue
                end = min(end, max_seconds)
            key = note.key + self.transpose
            if not 0 <= key <= 127:
                continue
            velocity = int(min(127, max(1, round(note.velocity * self.velocity))))
            played.append(replace(note, start=start, end=end, key=key, velocity=velocity))
        return played


@dataclass(frozen=True)
class VariantSpec:
    """How many variants each piece gets and the ranges they are drawn from (``(lo, hi)``, inclusive).

    Variant 0 is the plain rendering when ``plain_first`` (the piece as written, on the first soundfont); the
    others draw tempo, velocity and transposition uniformly and take the soundfonts in turn.
    """

    count: int = 1
    tempo: tuple[float, float] = (1.0, 1.0)
    velocity: tuple[float, float] = (1.0, 1.0)
    transpose: tuple[int, int] = (0, 0)
    soundfonts: tuple[str, ...] = (TRAIN_SOUNDFONTS[0],)
    plain_first: bool = True

    def __post_init__(self):
        if self.count < 1:
            raise ValueError(f"variants per piece must be at least 1, got {self.count}")
        for label, (lo, hi) in (("tempo", self.tempo), ("velocity", self.velocity)):
            if not 0 < lo <= hi:
                raise ValueError(f"{label} range must be 0 < lo <= hi, got {(lo, hi)}")
        if not -24 <= self.transpose[0] <= self.transpose[1] <= 24:
            raise ValueError(f"transpose range must be -24 <= lo <= hi <= 24 semitones, got {self.transpose}")
        if not self.soundfonts:
            raise ValueError("at least one soundfont is needed")
        for name in self.soundfonts:
            if name == HELDOUT_SOUNDFONT:
                raise ValueError(f"soundfont {name} is held out for evaluation: training data may not use it "
                                 f"(training soundfonts: {', '.join(TRAIN_SOUNDFONTS)})")
            if name not in SOUNDFONT_TAGS:
                raise ValueError(f"unknown soundfont {name!r}; training soundfonts: {', '.join(TRAIN_SOUNDFONTS)}")

    def variants(self, piece: str, seed: int = 0) -> list[Variant]:
        """The piece's distinct variants (a draw that repeats an earlier one is dropped), same every call."""
        rng = random.Random(f"{seed}:{piece}:variants")
        first_font = rng.randrange(len(self.soundfonts))
        chosen: list[Variant] = []
        for k in range(self.count):
            font = self.soundfonts[(first_font + k) % len(self.soundfonts)]
            if k == 0 and self.plain_first:
                variant = Variant(soundfont=self.soundfonts[0])
            else:
                variant = Variant(
                    tempo=round(rng.uniform(*self.tempo), 2),
                    velocity=round(rng.uniform(*self.velocity), 2),
                    transpose=rng.randint(*self.transpose),
                    soundfont=font,
                )
            if variant not in chosen:
                chosen.append(variant)
        return chosen


def parse_range(text: str, kind: type = float) -> tuple:
    """``"0.85,1.15"`` -> ``(0.85, 1.15)``; a single number ``"1"`` -> ``(1, 1)``."""
    parts = [p for p in text.replace(":", ",").split(",") if p.strip()]
    if len(parts) not in (1, 2):
        raise ValueError(f"expected LO,HI or one number, got {text!r}")
    values = tuple(kind(p.strip()) for p in parts)
    return values * 2 if len(values) == 1 else values


def parse_soundfonts(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"TimGM6mb,FluidR3_GM"`` -> ``("TimGM6mb", "FluidR3_GM")``."""
    names = text.split(",") if isinstance(text, str) else list(text)
    return tuple(n.strip() for n in names if n.strip())
