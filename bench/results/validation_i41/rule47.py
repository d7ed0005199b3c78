"""Rule 47's criteria (README.md): gam65 against vm on seeds 42-43 and the low copies 40-99.

    python3 rule47.py --dir rule47 --codec rule47/rule47_codec.json --json rule47/rule47.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rule46 import pipeline_checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--codec", type=Path, required=True, help="pghi_variants.py's rule47 output")
    parser.add_argument("--seeds", default="42,43")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    checks, summaries = pipeline_checks(args.dir, "gam65", [int(s) for s in args.seeds.split(",")], 0.0)
    codec = json.loads(args.codec.read_text())["means"]
    checks.check("5 low copies voiced", codec["gamma0.65"]["voiced"], codec["pghi"]["voiced"] + 0.02)
    checks.check("5 low copies DNSMOS", codec["gamma0.65"]["dnsmos"], codec["pghi"]["dnsmos"] - 0.03)
    checks.check("5 low copies log-mel", codec["gamma0.65"]["mel"], codec["pghi"]["mel"] + 0.02, True)
    checks.report(args.json, summaries)


if __name__ == "__main__":
    main()
