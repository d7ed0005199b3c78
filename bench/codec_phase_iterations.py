"""Quality and decode time of a SpectralCodec against its Griffin-Lim iteration count (``phase_iterations``).

    python bench/codec_phase_iterations.py CODEC_DIR [--iterations 0,2,4,8,16] [--levels 12] [--out r.json]

For each count, the codec decodes the held-out speech and piano clips (audiolm_lib.datasets.heldout, the quality
benchmark's sets) and :func:`~audiolm_lib.eval.codec_quality.codec_quality_report` measures them: whisper
WER / CER (mean and median: a looping whisper makes the mean jumpy), speaker similarity, mel distance, PESQ-wb,
STOI, ViSQOL, SI-SDR; piano clips get mel distance and SI-SDR. The decode of 10 s is timed on the same codes
(median process-CPU seconds of 5 runs, 1 thread, so other load on the machine counts less). Prints a Markdown
table; the weights and the configured default are untouched (the count is set on the loaded copy only).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

METRICS = ("wer", "wer_median", "cer_median", "speaker_similarity", "mel_distance", "pesq_wb", "stoi",
           "visqol_speech", "si_sdr")


def decode_cpu_seconds(codec, codes: torch.Tensor, repeats: int = 5) -> float:
    codec.decode(codes)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        codec.decode(codes)
        times.append(time.process_time() - start)
    return statistics.median(times)


def iteration_rows(codec, clips: list[dict], iterations, levels: int, speech_instruments: bool = True) -> list[dict]:
    """One row per (iteration count, clip set): the report's means, median WER / CER, decode CPU seconds."""
    from audiolm_lib.eval.codec_quality import codec_quality_report

    default = codec.config.phase_iterations
    codes = torch.randint(0, codec.codebook_size, (1, levels, round(10 * codec.frame_rate)))
    rows = []
    try:
        seconds = {}
        for count in iterations:  # timed before whisper and the other instruments start threads in this process
            codec.config.phase_iterations = count
            seconds[count] = decode_cpu_seconds(codec, codes)
        transcriber = None
        if speech_instruments and any(clip.get("transcript") for clip in clips):
            from audiolm_lib.eval.asr import WhisperTranscriber

            transcriber = WhisperTranscriber()
        for count in iterations:
            codec.config.phase_iterations = count
            report = codec_quality_report(codec, clips, levels=[levels], transcriber=transcriber,
                                          speech_instruments=speech_instruments, progress=False)
            for row in report["rows"]:
                scores = [r["levels"][levels] for r in report["clips"] if r["set"] == row["set"]]
                for metric in ("wer", "cer"):
                    values = [s[metric] for s in scores if s.get(metric) is not None]
                    if values:
                        row[f"{metric}_median"] = statistics.median(values)
                rows.append({"phase_iterations": count, "decode_10s_cpu_s": seconds[count], **row})
    finally:
        codec.config.phase_iterations = default
    return rows


def markdown(rows: list[dict]) -> str:
    header = ["iterations", "decode 10 s (CPU s)", "set", *METRICS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [str(row["phase_iterations"]), f"{row['decode_10s_cpu_s']:.3f}", f"{row['set']} ({row['clips']})"]
        cells += [f"{row[m]:.3f}" if isinstance(row.get(m), float) else "" for m in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("codec", type=Path, help="a SpectralCodec folder (config.json + model.safetensors)")
    parser.add_argument("--iterations", default="0,2,4,8,16", help="comma-separated Griffin-Lim iteration counts")
    parser.add_argument("--levels", type=int, default=None, help="quantizer levels to decode with (default: all)")
    parser.add_argument("--data", type=Path, default=None, help="held-out set cache (default ~/.cache/audiolm_lib/heldout)")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    from audiolm_lib.datasets import heldout
    from audiolm_lib.eval.suite import _clips
    from audiolm_lib.serialization import load_pretrained

    torch.set_num_threads(1)
    codec = load_pretrained(args.codec).eval()
    if not hasattr(getattr(codec, "config", None), "phase_iterations"):
        raise SystemExit(f"error: {args.codec} holds a {type(codec).__name__}, which has no phase_iterations")
    clips = _clips(heldout.build_heldout(heldout.FULL, args.data), ("speech", "piano"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        rows = iteration_rows(codec, clips, [int(x) for x in args.iterations.split(",")],
                              args.levels or codec.num_quantizers)
    if args.out is not None:
        from audiolm_lib.atomic import atomic_write_text

        atomic_write_text(args.out, json.dumps(rows, indent=1, default=str) + "\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
