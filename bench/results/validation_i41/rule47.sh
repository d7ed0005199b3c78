#!/bin/bash
# Rule 47's runs (README.md): vm and gam65 (codec/config.json's phase_gamma 0.1666925) on seeds 42-43, then the
# codec-only check on the low copies' clips 40-99. (As run at 2c2f5da, written out there; the same steps.)
exec "$(dirname "$0")/rule_runs.sh" 47 gam65 42 43 /work/data/recorded_low055/manifest.jsonl 40 60
