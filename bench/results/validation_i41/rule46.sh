#!/bin/bash
# Rule 46's runs (README.md): vm and tol6 (codec/config.json's phase_tolerance 1e-6) on seeds 40-41, then the
# codec-only check on the recorded clips 60-99. (As run at 336f94c, written out there; the same steps.)
exec "$(dirname "$0")/rule_runs.sh" 46 tol6 40 41 /work/data/recorded/manifest.jsonl 60 40
