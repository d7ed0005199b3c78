"""Probe (not a rule): rungs c and d of narrowband prompts put through the prompt's own channel (nothing above 4 kHz)
before they are measured. Runs bench/validation_ladder.py with oracle_ladder.ladder_waves wrapped."""
import runpy
import sys

import audiolm_lib.eval.oracle_ladder as ladder
from audiolm_lib.audio import NARROWBAND_SHARE, band_limit, upper_band_share

original = ladder.ladder_waves


def wrapped(model, prompt, real, seed=0):
    waves, tokens = original(model, prompt, real, seed)
    if float(upper_band_share(prompt, model.sample_rate, 4000.0)) < NARROWBAND_SHARE:
        for rung in ("acoustic", "pipeline", "resynthesis"):
            waves[rung] = band_limit(waves[rung], model.sample_rate, 4000.0)
    return waves, tokens


ladder.ladder_waves = wrapped
sys.argv = ["validation_ladder.py"] + sys.argv[1:]
runpy.run_path("bench/validation_ladder.py", run_name="__main__")
