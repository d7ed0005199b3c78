"""Rule 47's criteria (README.md): gam65 against vm on seeds 42-43 and the low copies 40-99.

    python3 rule47.py --dir rule47 --codec rule47/rule47_codec.json --json rule47/rule47.json
"""
from __future__ import annotations

from rule46 import arguments, pipeline_checks


def main() -> None:
    args = arguments(__doc__, 47, "42,43")
    checks, summaries = pipeline_checks(args.dir, "gam65", args.seeds, 0.0)
    codec = args.codec_means
    checks.check("5 low copies voiced", codec["gamma0.65"]["voiced"], codec["pghi"]["voiced"] + 0.02)
    checks.check("5 low copies DNSMOS", codec["gamma0.65"]["dnsmos"], codec["pghi"]["dnsmos"] - 0.03)
    checks.check("5 low copies log-mel", codec["gamma0.65"]["mel"], codec["pghi"]["mel"] + 0.02, True)
    checks.report(args.json, summaries)


if __name__ == "__main__":
    main()
