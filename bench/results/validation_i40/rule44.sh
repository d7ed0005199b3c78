#!/bin/bash
# Rule 44's runs (README.md): vm and pghi on seeds 36-37, then the codec-only check on fresh low copies.
# Run from a worktree at the rule's commit; /work/cand/pghi is checkpoints/speech with codec/config.json's
# phase_start "pghi" and phase_iterations 0.
set -e
cd /work/val44
(./runm.sh vm 36 checkpoints/speech; ./runm.sh vm 37 checkpoints/speech) &
(./runm.sh pghi 36 /work/cand/pghi; ./runm.sh pghi 37 /work/cand/pghi) &
wait
cd /work/wt/v44 && PYTHONPATH=$PWD python3 bench/results/validation_i40/phase_voicing.py \
  --manifest /work/data/recorded_low055/manifest.jsonl --offset 40 --clips 40 --iterations 8 --pghi --dnsmos \
  --json /work/val44/rule44_low055.json > /work/val44/rule44_low055.log 2>&1
