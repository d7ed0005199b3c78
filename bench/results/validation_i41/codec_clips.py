"""What this pass's codec probes share: a manifest's validation clips, and a codec's decoded magnitudes for one."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from audiolm_lib.audio import load_audio


def validation_clips(manifest: str | Path, offset: int, count: int, seconds: float | None = None):
    """Yields ``(manifest row, Tensor[1, 1, T])`` for the ``valid`` clips ``offset .. offset + count``, cut to
    ``seconds`` (whole clip if None) and to whole 320-sample code frames."""
    manifest = Path(manifest)
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    for row in [row for row in rows if row.get("split") == "valid"][offset: offset + count]:
        wave = load_audio(manifest.parent / row["audio"], 16000).reshape(-1)
        if seconds is not None:
            wave = wave[: int(seconds * 16000)]
        yield row, wave[: len(wave) // 320 * 320][None, None].float()


def decoded_magnitude(codec, wave: torch.Tensor) -> torch.Tensor:
    """The codec's decoded STFT magnitudes of ``wave`` at all its levels, ``Tensor[1, bins, N]`` (as it decodes)."""
    with torch.inference_mode():
        log_magnitude, _ = codec._heads(codec._decode_features(codec.quantizer.decode(codec.encode(wave))))
        return torch.exp(log_magnitude.clamp(max=6.9))
