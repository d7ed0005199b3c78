"""The oracle ladder on VALIDATION voices or pieces, for choosing decoding settings and comparing trained models.

The quality benchmark's ladder (``audiolm eval ladder``) reads the held-out evaluation sets, which no choice may be
tuned on; this one reads the validation split of training manifests (``audiolm data speech / recorded / piano``):
voices held out whole (for recorded speech: Armelle and the German klettres reader) and held-out clips of training
identities, or the validation pieces. Each setting in ``--set`` (``key=value``, the acoustic generator's decoding
fields such as ``guidance_scale`` or ``choice_temperature``, ``temperature`` of its sampling, or
``semantic.temperature`` / ``semantic.top_p`` of the semantic stage's) runs the whole
ladder again on the same items with the same seeds; the JSON gives per set and rung the measure means, the
different-speaker baseline, for speech the share of items whose continuation is closer to the prompt's voice
than to a different speaker's, and the held-out targets read on these sets (``targets``: ``audiolm_lib.eval.targets``,
the synthetic sets named by ``--synthetic-sets`` held to the halfway speaker target; also printed to stderr).

    python bench/validation_ladder.py checkpoints/speech --manifest W/data/recorded/manifest.jsonl \
        --set guidance_scale=1 --set guidance_scale=2 --json out.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def validation_clips(manifest: Path, split: str, max_per_speaker: int) -> list[dict]:
    """``{"set", "speaker", "id", "wave", "sample_rate"}`` of the manifest's ``split`` clips (at most
    ``max_per_speaker`` a speaker, in manifest order; ``set`` is the manifest's folder name)."""
    from audiolm_lib.datasets.manifest import split_clips

    return [{"set": manifest.parent.name, "speaker": entry.get("speaker") or entry.get("piece") or entry["id"],
             "id": entry["id"], "sample_rate": 16000, "wave": wave}
            for entry, wave in split_clips(manifest, split, 16000, per_group=max_per_speaker)]


def heldout_geometry(domain: str) -> tuple[float, float]:
    """``(prompt seconds, continuation seconds)`` of the quality benchmark's held-out items of ``domain``, the
    defaults here: a semantic stage whose window slides past the prompt loses more of it on a longer item, which a
    shorter validation geometry would not show (a piano prompt of 4 s and its 6 s continuation fill 10 s, past the
    8 s semantic window; 3 s + 6 s barely does)."""
    from audiolm_lib.datasets.heldout import FULL
    from audiolm_lib.eval.suite import SuiteConfig

    config = SuiteConfig()
    if domain == "piano":
        return config.piano_prompt_seconds, FULL.piece_seconds - config.piano_prompt_seconds
    return config.speech_prompt_seconds, config.max_speech_continuation_seconds


def apply_setting(model, setting: dict) -> None:
    """Decoding fields onto the acoustic generator's config (``temperature`` / ``top_k`` / ``top_p`` onto its
    sampling settings, ``semantic.temperature`` and the like onto the semantic stage's, ``semantic.guidance_scale``,
    ``semantic.prompt_prior``, ``semantic.window_seconds`` and ``semantic.window_hop_fraction`` onto its config;
    ``voice_match=1`` / ``0``, the other ``voice_match_*`` fields, ``prompt_band_hz``, ``prompt_band_mode``,
    ``postfilter_*``, ``envelope_match_*`` and ``prompt_adaptation_*`` onto the pipeline's; ``none`` unsets one; a
    tuple field such as ``steps_per_level`` reads ``32/2``)."""
    for key, value in setting.items():
        stage, _, field = key.rpartition(".")
        if field in ("temperature", "top_k", "top_p") and stage in ("", "acoustic", "semantic"):
            sampling = getattr(model.config, stage or "acoustic")  # a stage's sampling settings
            setattr(sampling, field, None if value == "none" else (int if field == "top_k" else float)(value))
        elif stage == "semantic" and field in ("guidance_scale", "prompt_prior", "window_seconds",
                                               "window_hop_fraction"):  # the semantic stage's config
            setattr(model.semantic_lm.config, field, float(value))
        elif (key.startswith(("voice_match", "prompt_band", "postfilter", "envelope_match", "prompt_adaptation"))
              and hasattr(model.config, key)):
            current = getattr(model.config, key)  # the pipeline's own (voice_match.py, the prompt's band)
            if value == "none":
                parsed = None
            elif isinstance(current, bool):
                parsed = value.lower() in ("1", "true", "on")
            else:  # an unset optional field (None, e.g. prompt_band_hz) takes a number
                parsed = float(value) if current is None else type(current)(value)
            setattr(model.config, key, parsed)
        elif hasattr(model.acoustic.config, key):
            current = getattr(model.acoustic.config, key)
            if isinstance(current, tuple):  # e.g. steps_per_level=32/2
                parsed = tuple(int(part) for part in value.split("/"))
            else:  # an unset optional field (None, e.g. generated_levels) takes an integer
                parsed = int(value) if current is None else type(current)(value)
            setattr(model.acoustic.config, key, parsed)
        else:
            raise SystemExit(f"--set {key}: not a decoding field of {type(model.acoustic).__name__}")


def closer_to_prompt_share(result: dict, rung: str) -> dict[str, float]:
    """Per set: share of items whose ``rung`` continuation is more like the prompt's speaker than the
    different-speaker baseline is (a per-item reading of the speaker-similarity target)."""
    shares: dict[str, list[int]] = {}
    for item in result["items"]:
        similarity, baseline = item["rungs"][rung]["speaker_similarity"], item.get("different_speaker_baseline")
        if similarity is not None and baseline is not None:
            shares.setdefault(item["set"], []).append(int(similarity > baseline))
    return {name: sum(hits) / len(hits) for name, hits in shares.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="an AudioLM folder")
    parser.add_argument("--manifest", type=Path, action="append", required=True)
    parser.add_argument("--domain", choices=("speech", "piano"), default="speech")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--per-speaker", type=int, default=2, help="items per validation speaker (speech)")
    parser.add_argument("--max-clips-per-speaker", type=int, default=4)
    parser.add_argument("--prompt-seconds", type=float, default=None,
                        help="default: the held-out items' (speech 3 s, piano 4 s)")
    parser.add_argument("--continuation-seconds", type=float, default=None,
                        help="default: the held-out items' (speech up to 5 s, piano 6 s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                        help="one decoding setting to try (repeat; default: the model's own)")
    parser.add_argument("--synthetic-sets", default="speech,tts",
                        help="comma-separated set names (manifest folders) of synthetic voices, read against the "
                             "halfway speaker target (default: speech,tts)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prompt_seconds, continuation_seconds = heldout_geometry(args.domain)
    args.prompt_seconds = prompt_seconds if args.prompt_seconds is None else args.prompt_seconds
    args.continuation_seconds = continuation_seconds if args.continuation_seconds is None else args.continuation_seconds

    from audiolm_lib.eval.continuation_quality import piano_items, speech_items
    from audiolm_lib.eval.oracle_ladder import BASELINES, oracle_ladder
    from audiolm_lib.eval.targets import readings_markdown, target_readings
    from audiolm_lib.pipeline import AudioLM

    clips = [clip for path in args.manifest for clip in validation_clips(path, args.split, args.max_clips_per_speaker)]
    if args.domain == "speech":
        items = speech_items(clips, args.prompt_seconds, args.continuation_seconds, per_speaker=args.per_speaker)
    else:
        items = [dict(item, real=item["real"][: int(args.continuation_seconds * item["sample_rate"])])
                 for item in piano_items(clips, args.prompt_seconds)]
    synthetic_sets = tuple(name for name in args.synthetic_sets.split(",") if name)
    settings = [dict(part.split("=", 1) for part in text.split(",")) for text in args.set] or [{}]
    report = {"model": str(args.model), "manifests": [str(m) for m in args.manifest], "items": len(items),
              "prompt_seconds": args.prompt_seconds, "continuation_seconds": args.continuation_seconds, "runs": []}
    for setting in settings:
        model = AudioLM.from_pretrained(args.model).eval()
        apply_setting(model, setting)
        result = oracle_ladder(model, items, args.domain, seed=args.seed)
        run = {"setting": setting, "rows": result["rows"], "levels": result["levels"]}
        if args.domain == "speech":
            run["closer_than_other_speaker"] = {rung: closer_to_prompt_share(result, rung)
                                                for rung in ("acoustic", "pipeline")}
        run["per_item"] = [{"id": r["id"], "set": r["set"], "rungs": r["rungs"],
                            **{key: r[key] for key in BASELINES if key in r}}
                           for r in result["items"]]
        # the held-out targets' bounds on these sets (the synthetic sets are held to the halfway speaker target)
        run["targets"] = target_readings([{"ladder": {args.domain: result}}], synthetic_sets=synthetic_sets)
        report["runs"].append(run)
        keys = ("speaker_similarity", "voiced_share", "dnsmos_ovrl") if args.domain == "speech" else (
            "chroma_similarity_to_prompt", "harmonic_ratio", "chroma_agreement_with_real", "onset_rate")
        for row in result["rows"]:
            print(json.dumps({"setting": setting, "set": row["set"], "rung": row["rung"],
                              **{k: row.get(k) for k in keys + ("different_speaker_baseline",) if k in row}}),
                  flush=True)
    for run in report["runs"]:  # the targets per setting, as bench/quality.py prints them held out (one seed)
        print(f"targets, setting {run['setting'] or 'as shipped'}:", file=sys.stderr)
        print("\n".join(readings_markdown({args.model.name: run["targets"]})), file=sys.stderr)
    text = json.dumps(report, indent=1)
    if args.json:
        from audiolm_lib.atomic import atomic_write_text

        atomic_write_text(args.json, text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
