"""Probe (issue 20, sixteenth pass, after rule 27): does a pause in every adaptation example keep the adapted copy's
pauses clean? Rung c (true semantic ids, then pf10), seed 2, on a few voices: the shipped generator; ad60's copy; a
copy adapted as ad60 on the prompt with 0.5 s of digital silence's ids and codes (the model's own tokenization of
zeros) appended. ``python pause_probe.py MANIFEST OUT.json VOICE,...``"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/bench")
from eq_probe_shim import dnsmos, measure  # noqa: E402
from validation_ladder import validation_clips  # noqa: E402

from audiolm_lib.eval.continuation_quality import speech_items  # noqa: E402
from audiolm_lib.lm.prompt_adaptation import adapt_to_prompt  # noqa: E402
from audiolm_lib.pipeline import AudioLM  # noqa: E402

torch.set_num_threads(1)
RATE = 16000
model = AudioLM.from_pretrained("/work/main/checkpoints/speech").eval()
gen = model.acoustic
voices = sys.argv[3].split(",")
items = [i for i in speech_items(validation_clips(Path(sys.argv[1]), "valid", 4), 3.0, 5.0, per_speaker=1)
         if i["speaker"] in voices]
prompt_frames = int(math.floor(3.0 * model.acoustic_rate))
with torch.inference_mode():
    pause_semantic, pause_codes = model.tokenize(torch.zeros(1, RATE // 2), RATE)
sampling = {"acoustic": {"temperature": model.config.acoustic.temperature, "top_k": None, "top_p": None}}
rows = []
for number, item in enumerate(items):
    with torch.inference_mode():
        semantic, codes = model.tokenize(torch.cat([item["prompt"], item["real"]]), RATE)
    frames = codes.shape[-1] - prompt_frames
    sem_prompt, prompt = semantic[:, :prompt_frames], codes[..., :prompt_frames]
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
