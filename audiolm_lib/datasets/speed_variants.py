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

from audiolm_lib.datasets.manifest import MANIFEST_NAME, read_manifest, write_manifest, write_wav

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


def variant_identity(identity: str, factor: float) -> str:
    return f"{identity}@x{factor:g}"


def build_speed_variants(source: str | os.PathLike, out_dir: str | os.PathLike, factors: Sequence[float],
                         split: str = "train", progress: bool = True) -> Path:
    """Write speed-perturbed copies of ``source``'s ``split`` items into ``out_dir`` (``audio/*.wav`` +
    ``manifest.jsonl``); resumable (files already written are kept). Returns the manifest path.

    Each copy's entry is its original's with ``id``, ``audio``, ``duration``, ``speaker`` and ``identity`` made
    new (``@x<factor>``), ``split`` kept, and ``speed_factor`` / ``speed_of`` (the original id) added.
    """
    import soundfile as sf
    from tqdm.auto import tqdm

    from audiolm_lib.audio import load_audio

    factors = parse_factors(factors)
    out_dir = Path(out_dir)
    entries = [entry for entry in read_manifest(source) if entry.get("split", "train") == split]
    if not entries:
        raise ValueError(f"{source}: no {split!r} items to copy")
    if any(str(entry.get("identity", "")).count("@x") for entry in entries):
        raise ValueError(f"{source} already holds speed-perturbed copies; perturb the original dataset")
    written = []
    for entry in tqdm(entries, desc="speed variants", unit="item", disable=not progress):
        rate = int(entry.get("sample_rate", 16000))
        identity = entry.get("identity", entry.get("speaker", entry["id"]))
        wave = None
        for factor in factors:
            new_id = variant_identity(entry["id"], factor)
            path = out_dir / "audio" / f"{new_id}.wav"
            if path.exists():
                frames = sf.info(str(path)).frames
            else:
                if wave is None:
                    wave = load_audio(entry["audio"], sample_rate=rate)[0].numpy()
                perturbed = speed_perturb(wave, factor, rate)
                write_wav(path, perturbed, rate)
                frames = len(perturbed)
            written.append({**entry, "id": new_id, "audio": f"audio/{new_id}.wav", "duration": round(frames / rate, 4),
                            "speaker": variant_identity(entry.get("speaker", identity), factor),
                            "identity": variant_identity(identity, factor), "speed_factor": factor,
                            "speed_of": entry["id"]})
    return write_manifest(out_dir / MANIFEST_NAME, written)
