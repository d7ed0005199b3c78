#!/bin/bash
# Rule 45's runs (README.md). Run from a worktree at the rule's commit; /work/cand/pghi1 is checkpoints/speech with
# codec/config.json's phase_start "pghi" and phase_iterations 1.
set -e
cd /work/val44
(./runm.sh vm 38 checkpoints/speech; ./runm.sh vm 39 checkpoints/speech) &
(./runm.sh pghi1 38 /work/cand/pghi1; ./runm.sh pghi1 39 /work/cand/pghi1) &
wait
cd /work/wt/v44
PYTHONPATH=$PWD python3 bench/results/validation_i40/phase_voicing.py --manifest /work/data/recorded_low055/manifest.jsonl \
  --offset 80 --clips 40 --iterations 1 --pghi --dnsmos --json /work/val44/rule45_low055.json > /work/val44/rule45_low055.log 2>&1 &
(PYTHONPATH=$PWD python3 bench/results/validation_i40/phase_iterations_probe.py /work/data/recorded/manifest.jsonl \
  /work/val44/rule45_mel_recorded.json 30 30; PYTHONPATH=$PWD python3 bench/results/validation_i40/phase_iterations_probe.py \
  /work/gan_data/speech/manifest.jsonl /work/val44/rule45_mel_tts.json 30 30) > /work/val44/rule45_mel.log 2>&1 &
wait
