"""Choose between codec decoders on VALIDATION data (never the quality benchmark's held-out sets).

For each codec folder and level count, on the validation split of each given dataset (manifest): the voiced share
of the resynthesis against the original's (pYIN on active frames, :mod:`audiolm_lib.eval.voicing`), the voicing
decision error and F0 error in cents, the log-mel distance, and for music the harmonic ratio
(:mod:`audiolm_lib.eval.music`). Prints JSON (and writes it with ``--out``)::

    python bench/codec_decoder_selection.py --codec shipped=checkpoints/speech/codec --codec gan=runs/gan/codec \
        --data speech=runs/ckpt/data/recorded --data piano=runs/ckpt/data/piano --clips 24 --out selection.json

Decoders that share an encoder give identical codes, so only the decoding differs between the rows.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _named(values: list[str], what: str) -> dict[str, Path]:
    pairs = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"error: --{what} takes NAME=PATH, got {value!r}")
        pairs[name] = Path(path)
    return pairs


def validation_clips(manifest: Path, count: int, seed: int = 0) -> list[Path]:
    """``count`` seeded validation-split files of a dataset folder or manifest (all when fewer)."""
    from audiolm_lib.datasets.manifest import read_manifest

    entries = [e for e in read_manifest(manifest) if e.get("split") in ("valid", "validation", "dev")]
    if not entries:
        raise SystemExit(f"error: {manifest} has no validation split")
    random.Random(seed).shuffle(entries)
    return [Path(e["audio"]) for e in entries[:count]]


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else None


def score_codec(codec, waves: list[torch.Tensor], levels: list[int], kind: str, rate: int) -> dict:
    """Per level: mean measures over ``waves`` (each ``Tensor[1, 1, T]`` at the codec's rate)."""
    from audiolm_lib.eval.codec_metrics import mel_distance
    from audiolm_lib.eval.music import music_measures
    from audiolm_lib.eval.voicing import voicing_report, voicing_track

    references = [voicing_track(w[0, 0], rate) for w in waves] if kind == "speech" else None
    rows = {}
    for level in levels:
        per_clip = []
        for index, wave in enumerate(waves):
            with torch.inference_mode():
                resynthesis = codec.decode(codec.encode(wave, num_levels=level))[..., : wave.shape[-1]]
            clip = {"mel_distance": float(mel_distance(wave[0, 0], resynthesis[0, 0], rate))}
            if kind == "speech":
                clip.update(voicing_report(resynthesis[0, 0], rate, reference=references[index]))
            else:
                clip["harmonic_ratio"] = music_measures(resynthesis[0, 0], rate)["harmonic_ratio"]
                clip["harmonic_ratio_reference"] = music_measures(wave[0, 0], rate)["harmonic_ratio"]
            per_clip.append(clip)
        keys = sorted({key for clip in per_clip for key in clip})
        row = {key: _mean([clip.get(key) for clip in per_clip]) for key in keys}
        if kind == "speech" and row.get("voiced_share_reference"):
            row["voiced_share_ratio"] = row["voiced_share"] / row["voiced_share_reference"]
        rows[f"levels_{level}"] = row
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codec", action="append", required=True, help="NAME=codec folder (repeatable)")
    parser.add_argument("--data", action="append", required=True,
                        help="KIND=dataset folder or manifest with a valid split; KIND is speech or piano (repeatable)")
    parser.add_argument("--clips", type=int, default=24, help="validation clips per dataset")
    parser.add_argument("--seconds", type=float, default=6.0, help="longest stretch of a clip scored")
    parser.add_argument("--levels", default="4,8,12")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from audiolm_lib.audio import load_audio
    from audiolm_lib.serialization import load_pretrained

    codecs = {name: load_pretrained(path).eval() for name, path in _named(args.codec, "codec").items()}
    rate = int(next(iter(codecs.values())).sample_rate)
    levels = [int(level) for level in args.levels.split(",")]
    result = {"levels": levels, "clips_per_set": args.clips, "sets": {}}
    started = time.monotonic()
    for spec, manifest in _named(args.data, "data").items():
        kind = spec.split(":")[0]
        if kind not in ("speech", "piano"):
            raise SystemExit(f"error: --data KIND must be speech or piano (optionally speech:NAME), got {spec!r}")
        files = validation_clips(manifest, args.clips)
        waves = []
        for path in files:
            wave = load_audio(path, sample_rate=rate)[..., : int(args.seconds * rate)]
            hop = int(next(iter(codecs.values())).hop_length)
            waves.append(wave[..., : wave.shape[-1] // hop * hop][None])
        result["sets"][spec] = {"manifest": str(manifest), "clips": [p.name for p in files],
                                "codecs": {name: score_codec(codec, waves, levels, kind, rate)
                                           for name, codec in codecs.items()}}
    result["seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(result, indent=1)
    if args.out:
        from audiolm_lib.atomic import atomic_write_text

        atomic_write_text(args.out, text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
