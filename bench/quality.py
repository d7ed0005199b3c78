"""Quality benchmark on held-out data, beside the speed benchmark (bench/run.py).

    python bench/quality.py                                   # checkpoints/speech and checkpoints/piano, full
    python bench/quality.py MODEL_DIR [MODEL_DIR ...] --quick # any AudioLM folder or bare codec folder, CI size
    python bench/quality.py --from-json bench/results/quality.json   # reprint the tables of an earlier run

Builds the held-out sets (audiolm_lib/datasets/heldout.py; cached under ~/.cache/audiolm_lib/heldout or --data),
runs the codec report (ViSQOL, PESQ-wb, STOI, SI-SDR, mel distance, whisper WER/CER, speaker similarity, per
number of RVQ levels, voicing), the continuation reports (speaker similarity with baselines, DNSMOS, voicing,
transcripts; music measures for piano) and the oracle ladder (real / codec resynthesis / acoustic generator given
the true semantic tokens / full pipeline, and the acoustic generator's teacher-forced cross-entropy per level) on
each folder, writes the JSON to --out and prints the Markdown tables (audiolm_lib/eval/quality_tables.py), which
README.md and BENCHMARKS.md copy.

    python bench/quality.py checkpoints/speech --sections ladder --out bench/results/ladder_speech.json
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = (ROOT / "checkpoints" / "speech", ROOT / "checkpoints" / "piano")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", type=Path, help="AudioLM or codec folders (default: the shipped checkpoints)")
    parser.add_argument("--quick", action="store_true", help="the small held-out set and two level counts (CI size)")
    parser.add_argument("--data", type=Path, default=None, help="held-out set cache (default ~/.cache/audiolm_lib/heldout)")
    parser.add_argument("--domain", choices=("speech", "piano", "both"), default=None,
                        help="domains to measure (default: each folder's recipe.json kind, else both)")
    parser.add_argument("--levels", type=str, default=None, help="comma-separated RVQ level counts, e.g. 2,4,8")
    parser.add_argument("--sections", type=str, default=None,
                        help="comma-separated reports: codec, continuation, ladder (default: all)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--seed", type=int, default=0,
                        help="continuation item i is sampled with audiolm_lib.eval.seeds.item_seed(seed, i) (default 0: "
                             "item i with i, as every single-seed run committed)")
    parser.add_argument("--seeds", type=str, default=None,
                        help="run on each of these seeds (0-4 or 0,2,5; instead of --seed) and tabulate the means; "
                             "the JSON keeps each seed's run under per_seed")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON results here")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the Markdown tables here")
    parser.add_argument("--from-json", type=Path, default=None, help="print the tables of an earlier --out JSON")
    args = parser.parse_args(argv)

    from audiolm_lib.eval.quality_tables import quality_markdown

    if args.from_json is not None:
        results = json.loads(args.from_json.read_text(encoding="utf-8"))
    else:
        from audiolm_lib.eval.seeds import mean_over_seeds, parse_seeds
        from audiolm_lib.eval.suite import SuiteConfig, run_suites

        domains = None if args.domain is None else (("speech", "piano") if args.domain == "both" else (args.domain,))
        levels = tuple(int(level) for level in args.levels.split(",")) if args.levels else None
        make = SuiteConfig.quick_config if args.quick else SuiteConfig
        sections = {"sections": tuple(args.sections.split(","))} if args.sections else {}
        seeds = parse_seeds(args.seeds) if args.seeds is not None else [args.seed]
        per_seed = {}
        for seed in seeds:
            config = make(domains=domains, levels=levels, threads=args.threads, seed=seed, **sections)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=FutureWarning)
                per_seed[seed] = run_suites(list(args.models or DEFAULT_MODELS), config, args.data)
        results = per_seed[seeds[0]]
        if args.seeds is not None:
            means = [mean_over_seeds([per_seed[seed]["runs"][index] for seed in seeds], seeds)
                     for index in range(len(results["runs"]))]
            results = {"runs": means, "seeds": seeds, "per_seed": {str(seed): per_seed[seed] for seed in seeds}}
        results["command"] = "python bench/quality.py " + " ".join(sys.argv[1:] if argv is None else argv)
        if args.out is not None:
            from audiolm_lib.atomic import atomic_write_text

            args.out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(args.out, json.dumps(results, indent=1, default=str) + "\n")
            print(f"wrote {args.out}", file=sys.stderr)
    seeds = results.get("seeds")
    title = "Quality on held-out data" + (f" (means over sampling seeds {seeds})" if seeds else "")
    from audiolm_lib.eval.targets import seed_runs_by_model

    markdown = quality_markdown(results["runs"], title, seed_runs=seed_runs_by_model(results))
    if args.markdown is not None:
        from audiolm_lib.atomic import atomic_write_text

        atomic_write_text(args.markdown, markdown)
    print(markdown)
    return 0


def _main_with_clean_errors() -> int:
    """Expected failures (a wrong folder, a missing package or data) as one line and exit code 2, no traceback."""
    from audiolm_lib.audio import AudioError
    from audiolm_lib.serialization import CheckpointError

    try:
        return main()
    except (AudioError, CheckpointError, FileNotFoundError, ImportError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_main_with_clean_errors())
