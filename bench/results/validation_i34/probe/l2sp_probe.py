"""Probe (issue 20, sixteenth pass, after rule 27): does a pull back toward the shipped weights (L2-SP: the loss plus
``lambda * ||w - w0||^2`` summed over the weights) keep the adapted copy's pauses clean and its voice? Rung c (true
semantic ids, then pf10), seed 2, on the pause probe's voices: the shipped generator; ad60; ad60 with L2-SP at two
strengths. ``python l2sp_probe.py MANIFEST OUT.json VOICE,...``"""
import copy
import json
import sys

import numpy as np
import torch
from shared import RATE, dnsmos, item_tokens, measure, shipped_speech_model, voice_items

from audiolm_lib.lm.masking import training_mask
from audiolm_lib.lm.prompt_adaptation import adapt_to_prompt

torch.set_num_threads(1)
model, gen, prompt_frames = shipped_speech_model()
items = voice_items(sys.argv[1], sys.argv[3].split(","))
sampling = {"acoustic": {"temperature": model.config.acoustic.temperature, "top_k": None, "top_p": None}}
STRENGTHS = (0.01, 0.1)  # ad60 moves the weights by a sum of squares of ~45: a pull of 0.45-4.5 nats


def adapt_l2sp(semantic, codes, strength, steps=60, lr=1e-4, batch=8, seed=0):
    """adapt_to_prompt's loop with the L2-SP term (the prompt fits one window here)."""
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        c, s = codes.clone().expand(batch, -1, -1), semantic.clone().expand(batch, -1)
        tuned = copy.deepcopy(gen).train()
        anchors = [p.detach().clone() for p in tuned.parameters()]
        optimiser = torch.optim.AdamW(tuned.parameters(), lr=lr, weight_decay=0.0)
        masks = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            mask = training_mask(batch, c.shape[1], c.shape[2], generator=masks, scored_levels=tuned.config.output_levels)
            pull = sum((p - a).pow(2).sum() for p, a in zip(tuned.parameters(), anchors))
            loss = tuned(s, c, mask=mask) + strength * pull
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return tuned.eval()


rows = []
for number, item in enumerate(items):
    semantic, codes, frames, sem_prompt, prompt = item_tokens(model, item, prompt_frames)
    variants = {"base": gen, "ad60": adapt_to_prompt(gen, sem_prompt, prompt, steps=60)}
    variants.update({f"l2sp{strength:g}": adapt_l2sp(sem_prompt, prompt, strength) for strength in STRENGTHS})
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
for key in rows[0]:
    if key != "id":
        print(key, {m: round(float(np.mean([r[key][m] for r in rows])), 3) for m in ("sim", "voiced", "ovrl", "bak")})
