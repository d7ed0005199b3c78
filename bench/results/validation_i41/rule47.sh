#!/bin/bash
# Rule 47's runs (README.md): vm and gam65 on seeds 42-43, then the codec-only check on the low copies 40-99.
# Run from a worktree at the rule's commit (/work/wt/v47); /work/cand/gam65 is checkpoints/speech with
# codec/config.json's phase_gamma 0.1666925. Outputs go to /work/val47.
set -e
run() {  # NAME SEED MODEL
  cd /work/wt/v47 && PYTHONPATH=$PWD python3 bench/validation_ladder.py $3 --manifest /work/data/recorded/manifest.jsonl \
    --manifest /work/gan_data/speech/manifest.jsonl --continuation-seconds 5 --threads 1 --seed $2 \
    --json /work/val47/$1_s$2.json > /work/val47/$1_s$2.log 2>&1
}
mkdir -p /work/val47
(run vm 42 checkpoints/speech; run vm 43 checkpoints/speech) &
(run gam65 42 /work/cand/gam65; run gam65 43 /work/cand/gam65) &
wait
cd /work/wt/v47 && PYTHONPATH=$PWD python3 bench/results/validation_i41/pghi_variants.py \
  /work/data/recorded_low055/manifest.jsonl /work/val47/rule47_codec.json 40 60 rule47 > /work/val47/rule47_codec.log 2>&1
