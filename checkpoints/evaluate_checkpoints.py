"""Measure the shipped checkpoints with :mod:`audiolm_lib.eval`; writes ``checkpoints/<kind>/eval.json``.

    python checkpoints/evaluate_checkpoints.py --kind speech --data /tmp/ckpt/speech_data --work /tmp/ckpt

- codec: SI-SDR, mel distance and codebook usage on validation clips (all levels, and coarse levels only);
- stages: validation cross-entropy and perplexity of the EMA weights (``WORK/<kind>/stage_*/result.json``);
- speech: for validation utterances, prompt = first half, continuation = as long as the second half; whisper
  WER/CER of the original, of the codec re-synthesis and of prompt + continuation against the utterance's
  text, and speaker similarity prompt vs continuation with same- and different-speaker baselines.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=("piano", "speech"), required=True)
    parser.add_argument("--model", type=Path, default=None, help="AudioLM folder (default checkpoints/KIND)")
    parser.add_argument("--data", type=Path, required=True, help="dataset folder with manifest.jsonl")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ckpt"))
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--continuations", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from audiolm_lib.audio import load_audio
    from audiolm_lib.datasets.manifest import read_manifest
    from audiolm_lib.eval import codec_report, continuation_report
    from audiolm_lib.pipeline import AudioLM

    model_dir = args.model or Path(__file__).parent / args.kind
    model = AudioLM.from_pretrained(model_dir)
    rate = model.sample_rate
    valid = [e for e in read_manifest(args.data / "manifest.jsonl") if e["split"] == "valid"]
    waves = [load_audio(e["audio"], sample_rate=rate) for e in valid[: args.clips]]
    results: dict = {"model": str(model_dir), "validation_clips": len(waves),
                     "validation_seconds": round(sum(w.shape[-1] for w in waves) / rate, 1)}
    for name, levels in (("codec_all_levels", None), ("codec_coarse_levels", model.num_coarse)):
        report = codec_report(model.codec, waves, rate, num_quantizers=levels)
        results[name] = {"si_sdr_db": report["si_sdr"], "mel_distance": report["mel_distance"],
                         "num_quantizers": report["num_quantizers"],
                         "codebook_perplexity": [round(u["perplexity"], 1) for u in report["codebook_usage"]],
                         "fraction_used": [round(u["fraction_used"], 3) for u in report["codebook_usage"]]}
    stages = {}
    for stage in ("semantic", "coarse", "fine"):
        path = args.work / args.kind / f"stage_{stage}" / "result.json"
        if path.exists():
            result = json.loads(path.read_text())
            loss = result.get("valid_loss")
            result["valid_perplexity"] = math.exp(loss) if loss is not None else None
            stages[stage] = result
    results["stages"] = stages

    if args.kind == "speech":
        from audiolm_lib.eval.asr import WhisperTranscriber, asr_error_rates

        transcriber = WhisperTranscriber()
        rows = []
        for number, entry in enumerate(valid[: args.continuations]):
            wave = load_audio(entry["audio"], sample_rate=rate)
            half = wave.shape[-1] // 2
            prompt, rest_seconds = wave[:, :half], (wave.shape[-1] - half) / rate
            generator = torch.Generator().manual_seed(number)
            continuation = model.continue_audio(prompt, rest_seconds, sample_rate=rate, generator=generator)[0]
            resynthesis = model.decode(model.tokenize(wave, rate)[1])[0]
            other = next(e for e in valid if e["speaker"] != entry["speaker"])
            report = continuation_report(prompt, continuation, rate, reference_other_speaker=load_audio(other["audio"], sample_rate=rate))
            row = {"id": entry["id"], "speaker": entry["speaker"], "text": entry["text"],
                   "speaker_similarity": report["speaker_similarity"],
                   "same_speaker_baseline": report["same_speaker_baseline"],
                   "different_speaker_baseline": report["different_speaker_baseline"]}
            for label, audio in (("original", wave), ("resynthesis", resynthesis),
                                 ("prompt_plus_continuation", torch.cat([prompt, continuation], -1))):
                scores = asr_error_rates(audio, rate, entry["text"], transcriber)
                row[f"wer_{label}"], row[f"cer_{label}"] = scores["wer"], scores["cer"]
                row[f"hypothesis_{label}"] = scores["hypothesis"]
            rows.append(row)
            print(json.dumps(row))
        results["speech_continuation"] = {
            key: mean([row[key] for row in rows]) for key in rows[0] if isinstance(rows[0][key], float)}
        results["speech_continuation_rows"] = rows
    out = model_dir / "eval.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in results.items() if k != "speech_continuation_rows"}, indent=2))


if __name__ == "__main__":
    main()
