"""Probe (issue 20, sixteenth pass, after rule 27): does a pause in every adaptation example keep the adapted copy's
pauses clean? Rung c (true semantic ids, then pf10), seed 2, on a few voices: the shipped generator; ad60's copy; a
copy adapted as ad60 on the prompt with 0.5 s of digital silence's ids and codes (the model's own tokenization of
zeros) appended. ``python pause_probe.py MANIFEST OUT.json VOICE,...``"""
import json
import sys

import numpy as np
import torch
from shared import RATE, dnsmos, item_tokens, measure, shipped_speech_model, voice_items

from audiolm_lib.lm.prompt_adaptation import adapt_to_prompt

torch.set_num_threads(1)
model, gen, prompt_frames = shipped_speech_model()
items = voice_items(sys.argv[1], sys.argv[3].split(","))
with torch.inference_mode():
    pause_semantic, pause_codes = model.tokenize(torch.zeros(1, RATE // 2), RATE)
sampling = {"acoustic": {"temperature": model.config.acoustic.temperature, "top_k": None, "top_p": None}}
rows = []
for number, item in enumerate(items):
    semantic, codes, frames, sem_prompt, prompt = item_tokens(model, item, prompt_frames)
    variants = {"base": gen, "ad60": adapt_to_prompt(gen, sem_prompt, prompt, steps=60),
                "ad60_pause": adapt_to_prompt(gen, torch.cat([sem_prompt, pause_semantic], 1),
                                              torch.cat([prompt, pause_codes], -1), steps=60)}
    row = {"id": item["id"]}
    for name, acoustic in variants.items():
        with torch.inference_mode():
            new = acoustic.generate_acoustic(semantic, prompt, frames, sampling=sampling,
                                             generator=torch.Generator().manual_seed(2 + number))
            wave = model.decode(torch.cat([prompt, new], -1), item["prompt"][None, None])[0, 0, prompt_frames * 320:]
        row[name] = measure(item["prompt"], wave) | {k: v for k, v in dnsmos(wave, RATE).items() if k in ("sig", "bak")}
    rows.append(row)
    print(json.dumps(row), flush=True)
json.dump(rows, open(sys.argv[2], "w"), indent=1)
for key in ("base", "ad60", "ad60_pause"):
    print(key, {m: round(float(np.mean([r[key][m] for r in rows])), 3) for m in ("sim", "voiced", "ovrl", "bak")})
