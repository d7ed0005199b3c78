"""Does a codec keep the voicing? pYIN voicing of the held-out speech clips and of their re-synthesis, per set.

    python bench/codec_voicing.py                                   # the shipped codec (checkpoints/speech/codec)
    python bench/codec_voicing.py --codec runs/codec/model --levels 4,12 --out voicing.json

For every speech clip of the quality benchmark's full held-out set (audiolm_lib/datasets/heldout.py: LibriVox,
Asterisk, held-out TTS voices) the codec encodes the whole clip and decodes the first q levels; per clip: the
original's voiced share of active frames and median F0, the re-synthesis' voiced share, voicing decision error and
median F0 error in cents (audiolm_lib/eval/voicing.py), and at the most levels speaker similarity and DNSMOS OVRL of
original and re-synthesis. Per set: means over clips, the ratio of voiced shares and the F0 error pooled over all
frames voiced in both (a mean of per-clip medians is noisy where a clip keeps only a few voiced frames). Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def clip_voicing(codec, wave, levels: list[int]) -> tuple[dict, dict]:
    """One clip (``Tensor[T]`` at 16 kHz) -> its record and ``{q: ndarray of |cents| on frames voiced in both}``."""
    import numpy as np
    import torch

    from audiolm_lib.audio import prepare_wave
    from audiolm_lib.eval.perceptual import dnsmos
    from audiolm_lib.eval.speaker import speaker_similarity
    from audiolm_lib.eval.voicing import compare_voicing, voicing_track

    rate = int(codec.sample_rate)
    wave = prepare_wave(wave, 16000, rate)[0, 0]
    original = voicing_track(wave, rate)
    voiced_f0 = original.f0[original.voiced & original.active]
    record = {"seconds": round(len(wave) / rate, 2), "voiced_share_original": original.voiced_share,
              "median_f0_hz_original": round(float(np.median(voiced_f0)), 1) if len(voiced_f0) else None}
    cents = {}
    with torch.inference_mode():
        codes = codec.encode(wave[None, None])
        for q in levels:
            decoded = codec.decode(codes[:, :q]).float()[0, 0, : len(wave)]
            track = voicing_track(decoded, rate)
            record[f"levels_{q}"] = {"voiced_share": track.voiced_share, **compare_voicing(original, track)}
            frames = min(len(original.f0), len(track.f0))
            both = original.voiced[:frames] & track.voiced[:frames]
            cents[q] = np.abs(1200 * np.log2(track.f0[:frames][both] / original.f0[:frames][both]))
            if q == max(levels):
                record[f"levels_{q}"].update(speaker_similarity=speaker_similarity(wave, decoded, rate),
                                             dnsmos_ovrl=dnsmos(decoded, rate)["ovrl"])
        record["dnsmos_ovrl_original"] = dnsmos(wave, rate)["ovrl"]
    return record, cents


def set_summary(records: list[dict], cents: dict, levels: list[int]) -> dict:
    import numpy as np

    original = _mean(r["voiced_share_original"] for r in records)
    summary = {"clips": len(records), "voiced_share_original": original,
               "dnsmos_ovrl_original": _mean(r["dnsmos_ovrl_original"] for r in records)}
    for q in levels:
        rows = [r[f"levels_{q}"] for r in records]
        pooled = np.concatenate(cents[q]) if cents[q] else np.zeros(0)
        share = _mean(r["voiced_share"] for r in rows)
        summary[f"levels_{q}"] = {
            "voiced_share": share, "voiced_share_ratio": share / original if original else None,
            "voicing_decision_error": _mean(r["voicing_decision_error"] for r in rows),
            "f0_error_cents_mean_of_clip_medians": _mean(r["f0_error_cents"] for r in rows),
            "f0_error_cents_pooled_median": float(np.median(pooled)) if len(pooled) else None,
            "frames_voiced_in_both": int(len(pooled)),
            **{key: _mean(r.get(key) for r in rows) for key in ("speaker_similarity", "dnsmos_ovrl") if key in rows[0]},
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    import torch

    from audiolm_lib.audio import load_audio
    from audiolm_lib.datasets import heldout
    from audiolm_lib.eval.suite import load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codec", type=Path, default=ROOT / "checkpoints" / "speech" / "codec",
                        help="a codec folder or an AudioLM folder (its codec)")
    parser.add_argument("--levels", default="4,8,12", help="comma-separated RVQ level counts")
    parser.add_argument("--sets", default="librivox,asterisk,tts", help="held-out speech sets")
    parser.add_argument("--data", type=Path, default=None, help="held-out set cache")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    levels = sorted(int(q) for q in args.levels.split(","))
    _, codec = load_model(args.codec)
    entries = heldout.build_heldout(heldout.FULL, args.data, progress=False)
    results = {"codec": str(args.codec), "levels": levels, "heldout_spec": heldout.FULL.key(), "sets": {}}
    for name in args.sets.split(","):
        records, cents = [], {q: [] for q in levels}
        for entry in (e for e in entries if e["set"] == name):
            record, clip_cents = clip_voicing(codec, load_audio(entry["audio"], sample_rate=16000)[0], levels)
            records.append({"id": entry["id"], **record})
            for q in levels:
                cents[q].append(clip_cents[q])
            print(f"{entry['id']}: voiced {record['voiced_share_original']:.2f} -> "
                  f"{record[f'levels_{levels[-1]}']['voiced_share']:.2f}", file=sys.stderr)
        if not records:
            raise SystemExit(f"the held-out set has no {name!r} clips (bash .ci/install)")
        results["sets"][name] = {"summary": set_summary(records, cents, levels), "clips": records}
    text = json.dumps(results, indent=1)
    if args.out is not None:
        from audiolm_lib.atomic import atomic_write_text

        atomic_write_text(args.out, text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
