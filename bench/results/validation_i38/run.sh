#!/bin/bash
# rules 33-41 runs: run.sh SEED NAME [OUT]  (from the worktree at the rule's commit; OUT: /work/val41 for rules
# 33-37, /work/val42 for rules 38-41)
cd /work/wt/v41
seed=$1; name=$2; out=${3:-/work/val41}
vm="voice_match=1,voice_match_neighbours=4,voice_match_continuity=0.05,voice_match_strength=0.75"
common="--manifest /work/data/recorded/manifest.jsonl --manifest /work/gan_data/speech/manifest.jsonl --continuation-seconds 5 --threads 1 --seed $seed"
case $name in
  pf10) args="checkpoints/speech $common";;
  vm) args="checkpoints/speech $common --set $vm";;
  vmpm) args="/work/cand/pm $common --set $vm";;
  pm) args="/work/cand/pm $common";;
  soup) args="/work/cand/soup $common";;
  ctl) args="/work/cand/ctl $common";;
  vmsoup) args="/work/cand/soup $common --set $vm";;
esac
[ -s $out/${name}_s$seed.json ] || PYTHONPATH=$PWD python3 bench/validation_ladder.py $args --json $out/${name}_s$seed.json > $out/${name}_s$seed.log 2>&1
