#!/bin/bash
# rule 42 runs, from the worktree at 54fec33
cd /work/wt/v43
run() { # name seed manifests...
  name=$1; seed=$2; shift 2
  set=""; [[ $name == pn* ]] && set="--set prompt_peak=0.9"
  [ -s /work/val43/${name}_s$seed.json ] || PYTHONPATH=$PWD python3 bench/validation_ladder.py checkpoints/speech $@ --continuation-seconds 5 --threads 1 --seed $seed $set --json /work/val43/${name}_s$seed.json > /work/val43/${name}_s$seed.log 2>&1
}
usual="--manifest /work/data/recorded/manifest.jsonl --manifest /work/gan_data/speech/manifest.jsonl"
quiet="--manifest /work/data/recorded_quiet8/manifest.jsonl"
( run pf10 32 $usual; run pf10 33 $usual; run pf10q 32 $quiet ) &
( run pn 32 $usual; run pn 33 $usual; run pnq 32 $quiet ) &
wait
