"""Probe (issue 20, sixteenth pass, after rule 27): does a pause in every adaptation example keep the adapted copy's
pauses clean? Rung c (true semantic ids, then pf10), seed 2, on a few voices: the shipped generator; ad60's copy; a
copy adapted as ad60 on the prompt with 0.5 s of digital silence's ids and codes (the model's own tokenization of
zeros) appended. ``python pause_probe.py MANIFEST OUT.json VOICE,...``"""
import sys

import torch
from shared import RATE, compare_variants, shipped_speech_model, voice_items

from audiolm_lib.lm.prompt_adaptation import adapt_to_prompt

torch.set_num_threads(1)
model, gen, prompt_frames = shipped_speech_model()
items = voice_items(sys.argv[1], sys.argv[3].split(","))
with torch.inference_mode():
    pause_semantic, pause_codes = model.tokenize(torch.zeros(1, RATE // 2), RATE)
compare_variants(model, items, prompt_frames, lambda sem_prompt, prompt: {
    "base": gen, "ad60": adapt_to_prompt(gen, sem_prompt, prompt, steps=60),
    "ad60_pause": adapt_to_prompt(gen, torch.cat([sem_prompt, pause_semantic], 1), torch.cat([prompt, pause_codes], -1),
                                  steps=60)}, sys.argv[2])
