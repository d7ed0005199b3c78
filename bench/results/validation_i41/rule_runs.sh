#!/bin/bash
# The runs of a rule of this pass (README.md): vm and the candidate on two seeds, then the codec-only check.
# usage: rule_runs.sh RULE CANDIDATE SEED_A SEED_B PROBE_MANIFEST PROBE_OFFSET PROBE_CLIPS
# Run from a worktree at the rule's commit, /work/wt/v$RULE; the candidate folder is /work/cand/$CANDIDATE (a full
# copy of checkpoints/speech with the rule's codec setting). Outputs go to /work/val$RULE.
set -e
rule=$1; candidate=$2; seeds=("$3" "$4"); probe=("$5" "$6" "$7")
out=/work/val$rule
run() {  # NAME SEED MODEL
  cd /work/wt/v$rule && PYTHONPATH=$PWD python3 bench/validation_ladder.py $3 --manifest /work/data/recorded/manifest.jsonl \
    --manifest /work/gan_data/speech/manifest.jsonl --continuation-seconds 5 --threads 1 --seed $2 \
    --json $out/$1_s$2.json > $out/$1_s$2.log 2>&1
}
mkdir -p $out
(run vm ${seeds[0]} checkpoints/speech; run vm ${seeds[1]} checkpoints/speech) &
(run $candidate ${seeds[0]} /work/cand/$candidate; run $candidate ${seeds[1]} /work/cand/$candidate) &
wait
cd /work/wt/v$rule && PYTHONPATH=$PWD python3 bench/results/validation_i41/pghi_variants.py \
  ${probe[0]} $out/rule${rule}_codec.json ${probe[1]} ${probe[2]} rule$rule > $out/rule${rule}_codec.log 2>&1
