"""Speed-perturbed copies of a dataset's training voices: more voices for the acoustic generator to carry over.

Speed perturbation (Ko et al. 2015, "Audio augmentation for speech recognition"; Kaldi's and ESPnet's 0.9 / 1.1)
resamples a recording and plays it at the original rate: a factor ``f`` makes it ``f`` times faster and moves its
pitch and formants by ``12 log2 f`` semitones, so one speaker becomes another plausible voice. Issue 20's
acoustic generator, trained on a few recorded voices near 200 Hz, pulled every continuation toward them; each copy
here is a new identity (``<identity>@x<f>``) and, with prompts from elsewhere in the same recording, the model must
take the voice from the prompt rather than from memory.

Only the ``train`` split is copied: validation voices and clips stay as they are (no validation voice reaches
training through a copy), and the evaluation voices never enter a training manifest in the first place.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from audiolm_lib.datasets.manifest import read_manifest
from audiolm_lib.datasets.variants import build_variants, tagged

MIN_FACTOR, MAX_FACTOR = 0.5, 2.0


def parse_factors(text: str | Sequence[float]) -> list[float]:
    """``"0.8,0.9,1.15"`` (or a sequence) -> factors, each in [0.5, 2] and not 1 (the original is not copied)."""
    values = [float(part) for part in text.split(",") if part.strip()] if isinstance(text, str) else list(text)
    if not values:
        raise ValueError("give at least one speed factor, e.g. 0.9,1.1")
    for value in values:
        if not (math.isfinite(value) and MIN_FACTOR <= value <= MAX_FACTOR) or value == 1.0:
            raise ValueError(f"speed factor {value} must be in [{MIN_FACTOR}, {MAX_FACTOR}] and not 1")
    return sorted(set(values))


def speed_perturb(wave: np.ndarray, factor: float, sample_rate: int) -> np.ndarray:
    """``float32[T]`` -> ``float32[~T / factor]``: ``factor`` times faster, pitch up ``12 log2 factor`` semitones
    (high-quality soxr resampling; peak kept below full scale)."""
    import soxr

    out = soxr.resample(np.asarray(wave, dtype=np.float32), sample_rate * factor, sample_rate, quality="HQ")
    peak = float(np.abs(out).max()) if out.size else 0.0
    return (out * (0.99 / peak) if peak > 0.99 else out).astype(np.float32)


def speed_tag(factor: float) -> str:
    return f"x{factor:g}"


def variant_identity(identity: str, factor: float) -> str:
    return tagged(identity, speed_tag(factor))


def build_speed_variants(source: str | os.PathLike, out_dir: str | os.PathLike, factors: Sequence[float],
                         split: str = "train", progress: bool = True) -> Path:
    """Write speed-perturbed copies of ``source``'s ``split`` items into ``out_dir`` (``audio/*.wav`` +
    ``manifest.jsonl``); resumable (files already written are kept). Returns the manifest path.

    Each copy's entry is its original's with ``id``, ``audio``, ``duration``, ``speaker`` and ``identity`` made
    new (``@x<factor>``), ``split`` kept, and ``speed_factor`` / ``speed_of`` (the original id) added.
    """
    factors = parse_factors(factors)
    if any("@x" in str(entry.get("identity", "")) for entry in read_manifest(source)):
        raise ValueError(f"{source} already holds speed-perturbed copies; perturb the original dataset")
    variants = [(speed_tag(factor), lambda wave, rate, factor=factor: speed_perturb(wave, factor, rate),
                 {"speed_factor": factor}) for factor in factors]
    return build_variants(source, out_dir, variants, origin_key="speed_of", split=split, description="speed variants",
                          progress=progress)
