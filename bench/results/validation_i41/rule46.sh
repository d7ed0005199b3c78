#!/bin/bash
# Rule 46's runs (README.md): vm and tol6 on seeds 40-41, then the codec-only check on the fresh recorded clips.
# Run from a worktree at the rule's commit (/work/wt/v46); /work/cand/tol6 is checkpoints/speech with
# codec/config.json's phase_tolerance 1e-6. Outputs go to /work/val46.
set -e
run() {  # NAME SEED MODEL
  cd /work/wt/v46 && PYTHONPATH=$PWD python3 bench/validation_ladder.py $3 --manifest /work/data/recorded/manifest.jsonl \
    --manifest /work/gan_data/speech/manifest.jsonl --continuation-seconds 5 --threads 1 --seed $2 \
    --json /work/val46/$1_s$2.json > /work/val46/$1_s$2.log 2>&1
}
mkdir -p /work/val46
(run vm 40 checkpoints/speech; run vm 41 checkpoints/speech) &
(run tol6 40 /work/cand/tol6; run tol6 41 /work/cand/tol6) &
wait
cd /work/wt/v46 && PYTHONPATH=$PWD python3 bench/results/validation_i41/pghi_variants.py \
  /work/data/recorded/manifest.jsonl /work/val46/rule46_codec.json 60 40 rule46 > /work/val46/rule46_codec.log 2>&1
