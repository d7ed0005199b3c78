"""How the shipped checkpoints were made (CPU only): one codec shared by piano and speech, then each
kind's tokenizer, token cache and three stages with :mod:`audiolm_lib.recipes`.

    python checkpoints/make_checkpoints.py codec  --work /tmp/ckpt --minutes 25
    python checkpoints/make_checkpoints.py cache  --work /tmp/ckpt --kind piano
    python checkpoints/make_checkpoints.py stage  --work /tmp/ckpt --kind piano --stage coarse --minutes 40  # x3, in parallel
    python checkpoints/make_checkpoints.py stages --work /tmp/ckpt --kind piano --out checkpoints/piano  # assemble

The data folders ``WORK/piano_data`` and ``WORK/speech_data`` come from ``audiolm data piano|speech``
(built here when missing).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=("codec", "cache", "stage", "stages"))
    parser.add_argument("--stage", choices=("semantic", "coarse", "fine"), default="semantic")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ckpt"))
    parser.add_argument("--kind", choices=("piano", "speech"), default="piano")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time of this phase")
    parser.add_argument("--data-minutes", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from audiolm_lib.recipes import (RecipeConfig, build_data, prepare_tokens, run_recipe, split_files,
                                     train_small_codec, train_small_stage)

    manifests = {}
    for kind in ("piano", "speech"):
        config = RecipeConfig.small(kind)
        config.data_minutes = args.data_minutes
        manifest = args.work / f"{kind}_data" / "manifest.jsonl"
        manifests[kind] = manifest if manifest.exists() else build_data(config, args.work / f"{kind}_data")
    if args.phase == "codec":
        config = RecipeConfig.small("piano")
        config.codec_minutes, config.codec_steps = args.minutes, 100_000
        files = split_files(manifests["piano"], "train") + split_files(manifests["speech"], "train")
        codec = train_small_codec(config, files, args.work / "codec_run")
        print("codec:", args.work / "codec_run" / "codec", sum(p.numel() for p in codec.parameters()), "parameters")
        return
    config = RecipeConfig.small(args.kind)
    config.codec_dir = str(args.work / "codec_run" / "codec")
    for stage in ("semantic", "coarse", "fine"):
        getattr(config, stage).steps = 100_000  # the time limit decides
        getattr(config, stage).minutes = args.minutes
    work = args.work / args.kind
    if args.phase == "cache":
        print(prepare_tokens(config, work, manifest=manifests[args.kind])[2])
    elif args.phase == "stage":
        cache = prepare_tokens(config, work, manifest=manifests[args.kind])[2]
        train_small_stage(config, args.stage, cache, work / f"stage_{args.stage}")
        print((work / f"stage_{args.stage}" / "result.json").read_text())
    else:
        out = args.out or args.work / f"out_{args.kind}"
        run_recipe(config, work, out, manifest=manifests[args.kind])
        print("saved", out)


if __name__ == "__main__":
    main()
