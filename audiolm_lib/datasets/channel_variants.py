"""Narrowband copies of a dataset's wideband training voices: telephone-channel speech for the acoustic generator.

Issue 20's twelfth pass found where the speech generator's voicing fails most: prompts with nothing above 4 kHz
(8 kHz recordings, such as the held-out Asterisk voice) get unvoiced continuations, and no decoding-time change to
the prompt fixed it without costing the voice (BENCHMARKS.md). The generator has heard few narrowband voices (three
8 kHz Asterisk voices); these copies give it every wideband training voice through a telephone channel too
(:func:`~audiolm_lib.audio.band_limit`: nothing above the band, as an 8 kHz recording has nothing above 4 kHz).
Each copy is a new identity (``<identity>@nb<band>``), so a prompt drawn from elsewhere in a voice is always of the
same channel. Items that are narrowband already (:func:`~audiolm_lib.audio.upper_band_share` under
:data:`~audiolm_lib.audio.NARROWBAND_SHARE`) are not copied.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from audiolm_lib.datasets.manifest import read_manifest
from audiolm_lib.datasets.variants import build_variants


def check_band(band_hz: float, sample_rate: int = 16000) -> float:
    if not (math.isfinite(band_hz) and 1000 <= band_hz < sample_rate / 2):
        raise ValueError(f"the band must be at least 1000 Hz and below half the sample rate ({sample_rate / 2:g} Hz), "
                         f"got {band_hz}")
    return float(band_hz)


def channel_tag(band_hz: float) -> str:
    return f"nb{band_hz:g}"


def build_narrowband_variants(source: str | os.PathLike, out_dir: str | os.PathLike, band_hz: float = 4000.0,
                              split: str = "train", progress: bool = True, keep_speaker: bool = False) -> Path:
    """Write narrowband copies of ``source``'s wideband ``split`` items into ``out_dir`` (``audio/*.wav`` +
    ``manifest.jsonl``); resumable (files already written are kept). Returns the manifest path.

    Each copy's entry is its original's with ``id``, ``audio``, ``duration``, ``speaker`` and ``identity`` made
    new (``@nb<band>``), ``split`` kept, and ``channel_band_hz`` / ``channel_of`` (the original id) added.
    ``keep_speaker``: the copies keep their original's ``speaker`` (a new identity still), so same-speaker prompts
    can cross the channel (``StageTrainConfig.prompt_only_tag``).
    """
    import torch

    from audiolm_lib.audio import NARROWBAND_SHARE, band_limit, upper_band_share

    band_hz = check_band(band_hz)
    if any("@nb" in str(entry.get("identity", "")) for entry in read_manifest(source)):
        raise ValueError(f"{source} already holds narrowband copies; copy the original dataset")

    def wideband(entry: dict, wave: np.ndarray, rate: int) -> bool:
        return bool(upper_band_share(torch.from_numpy(wave), rate, band_hz) >= NARROWBAND_SHARE)

    def telephone(wave: np.ndarray, rate: int) -> np.ndarray:
        return band_limit(torch.from_numpy(np.asarray(wave, dtype=np.float32)), rate, check_band(band_hz, rate)).numpy()

    variants = [(channel_tag(band_hz), telephone, {"channel_band_hz": band_hz})]
    return build_variants(source, out_dir, variants, origin_key="channel_of", split=split, keep=wideband,
                          description="narrowband variants", progress=progress, tag_speaker=not keep_speaker)
