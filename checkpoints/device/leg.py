"""The device side of a training leg on a lent accelerator (:mod:`audiolm_lib.training.device_leg`).

Run by the ``device`` tool in the repository root, with the carry folder that ``make_checkpoints.py device-pack``
made named in ``carry``::

    PYTHONPATH=$PWD PYTHONUNBUFFERED=1 python3 checkpoints/device/leg.py --carry .device/speech --minutes 8 --out $OUT

It needs only torch, numpy, safetensors and tqdm (the machine has no soundfile, soxr or network). What it writes
under ``--out`` comes back: the model in parts, its config, the metrics and ``leg_summary.json``; then, here,
``make_checkpoints.py device-import --returned <that folder>``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--carry", type=Path, required=True, help="the folder device-pack made (named in carry)")
    parser.add_argument("--minutes", type=float, required=True, help="wall clock for the whole leg, start included")
    parser.add_argument("--out", type=Path, required=True, help="where the returned files go ($OUT)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--probe-steps", type=int, default=60, help="steps timed before the schedule is fitted")
    args = parser.parse_args(argv)
    missing = [name for name in ("leg.json", "cache.tar.xz", "start_model/config.json")
               if not (args.carry / name).is_file()]
    if missing:
        print(f"{args.carry} lacks {', '.join(missing)}: make it with make_checkpoints.py device-pack and name it in "
              "carry", file=sys.stderr)
        return 2
    if args.minutes <= 0:
        print(f"--minutes must be positive, got {args.minutes}", file=sys.stderr)
        return 2
    from audiolm_lib.training.device_leg import run_leg

    with tempfile.TemporaryDirectory(prefix="device_leg_") as scratch:
        summary = run_leg(args.carry, args.out, args.minutes, args.work or Path(scratch), probe_steps=args.probe_steps)
    print(json.dumps({key: value for key, value in summary.items() if key != "config"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
