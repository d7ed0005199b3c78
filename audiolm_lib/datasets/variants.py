"""Copies of a dataset's items, each through one transform and made a new speaker identity (``<identity>@<tag>``):
the resumable copier that :mod:`~audiolm_lib.datasets.speed_variants` and
:mod:`~audiolm_lib.datasets.channel_variants` share.

Only one split is copied (``train`` by default), so no validation voice reaches training through a copy, and the
evaluation voices never enter a training manifest in the first place.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from audiolm_lib.datasets.manifest import MANIFEST_NAME, read_manifest, write_manifest, write_wav


def tagged(name: str, tag: str) -> str:
    return f"{name}@{tag}"


def build_variants(source: str | os.PathLike, out_dir: str | os.PathLike,
                   variants: Sequence[tuple[str, Callable[[np.ndarray, int], np.ndarray], dict]], *,
                   origin_key: str, split: str = "train", keep: Callable[[dict, np.ndarray, int], bool] | None = None,
                   description: str = "variants", progress: bool = True, tag_speaker: bool = True) -> Path:
    """Write ``source``'s ``split`` items through every ``(tag, transform, fields)`` of ``variants`` into ``out_dir``
    (``audio/*.wav`` + ``manifest.jsonl``); resumable (files already written are kept). Returns the manifest path.

    ``transform(wave float32[T], rate) -> float32[T']``; each copy's entry is its original's with ``id``, ``audio``,
    ``duration``, ``speaker`` and ``identity`` tagged ``@<tag>``, ``split`` kept, ``fields`` added and
    ``origin_key`` naming the original's id. ``keep(entry, wave, rate)`` may skip an item (its wave is read for it;
    otherwise only for a copy not yet written). ``tag_speaker=False`` keeps the original's ``speaker`` (the identity
    is still new): a copy is then another recording of the same speaker, for ``prompt_same_speaker`` training.
    """
    import soundfile as sf
    from tqdm.auto import tqdm

    from audiolm_lib.audio import load_audio

    out_dir = Path(out_dir)
    entries = [entry for entry in read_manifest(source) if entry.get("split", "train") == split]
    if not entries:
        raise ValueError(f"{source}: no {split!r} items to copy")
    written = []
    for entry in tqdm(entries, desc=description, unit="item", disable=not progress):
        rate = int(entry.get("sample_rate", 16000))
        identity = entry.get("identity", entry.get("speaker", entry["id"]))
        wave = None
        if keep is not None:
            wave = load_audio(entry["audio"], sample_rate=rate)[0].numpy()
            if not keep(entry, wave, rate):
                continue
        for tag, transform, fields in variants:
            new_id = tagged(entry["id"], tag)
            path = out_dir / "audio" / f"{new_id}.wav"
            if path.exists():
                frames = sf.info(str(path)).frames
            else:
                if wave is None:
                    wave = load_audio(entry["audio"], sample_rate=rate)[0].numpy()
                copy = transform(wave, rate)
                write_wav(path, copy, rate)
                frames = len(copy)
            written.append({**entry, "id": new_id, "audio": f"audio/{new_id}.wav", "duration": round(frames / rate, 4),
                            "speaker": (tagged(entry.get("speaker", identity), tag) if tag_speaker
                                        else entry.get("speaker", identity)),
                            "identity": tagged(identity, tag), **fields, origin_key: entry["id"]})
    if not written:
        raise ValueError(f"{source}: none of its {split!r} items needed a copy")
    return write_manifest(out_dir / MANIFEST_NAME, written)
