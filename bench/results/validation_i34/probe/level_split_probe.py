"""Probe (issue 20, sixteenth pass, after rule 26): where does the adapted generator lose the sound (DNSMOS BAK) on
some voices? Rung c (true semantic ids, then pf10) on the voices rule 26 hurt most and a few others, seed 2, from:
the shipped generator; the copy adapted as rule 26's ad60; that copy for level 1 only (levels 2-12 by the shipped
generator); the copy's weights halfway back to the shipped ones (WiSE-FT); a copy adapted on the level-1 loss only.
``python level_split_probe.py MANIFEST OUT.json VOICE,VOICE,...``"""
import json
import sys

import numpy as np
import torch
from shared import RATE, dnsmos, item_tokens, measure, shipped_speech_model, voice_items

from audiolm_lib.lm.base import eval_mode
from audiolm_lib.lm.masking import training_mask
from audiolm_lib.lm.prompt_adaptation import adapt_to_prompt

torch.set_num_threads(1)
model, gen, prompt_frames = shipped_speech_model()
items = voice_items(sys.argv[1], sys.argv[3].split(","))


def split_generate(models, semantic, prompt, frames, seed):
    """models[q]: the generator of level q (the shipped fill_window, level by level)."""
    g = torch.Generator().manual_seed(seed)
    cfg = gen.config
    total = prompt.shape[-1] + frames
    ids = torch.full((1, cfg.num_quantizers, total), cfg.codebook_size, dtype=torch.long)
    ids[..., :prompt.shape[-1]] = prompt
    decoding = gen._decoding(None, None, None)
    temperature = model.config.acoustic.temperature
    for span in gen.windows(prompt.shape[-1], total):
        frames_idx = span.frames(ids.device)
        window_ids = ids[:, :, frames_idx]
        aligned = semantic[:, gen.semantic_positions_of(frames_idx, semantic.shape[1])]
        for level in range(decoding.levels):
            m = models[level]
            with eval_mode(m):
                m._fill_level(aligned, window_ids, span.known, level, temperature=temperature, top_k=None, top_p=None,
                              generator=g, steps=decoding.steps_of(level), sampled=level < decoding.sampled_levels,
                              choice_temperature=decoding.choice_temperature, tick=lambda: None)
        ids[:, :, span[1]:span[2]] = window_ids[:, :, span.known:]
    return ids[..., prompt.shape[-1]:]


def level1_adapted(semantic, codes, steps=60, lr=1e-4, batch=8, seed=0):
    import copy
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        c = codes.clone().expand(batch, -1, -1); s = semantic.clone().expand(batch, -1)
        tuned = copy.deepcopy(gen).train()
        opt = torch.optim.AdamW(tuned.parameters(), lr=lr, weight_decay=0.0)
        g = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            mask = training_mask(batch, c.shape[1], c.shape[2], generator=g, scored_levels=1)
            loss = tuned(s, c, mask=mask)
            opt.zero_grad(); loss.backward(); opt.step()
    return tuned.eval()


def wise(adapted, alpha=0.5):
    import copy
    mixed = copy.deepcopy(gen)
    with torch.no_grad():
        for p, a, b in zip(mixed.parameters(), gen.parameters(), adapted.parameters()):
            p.copy_(a + alpha * (b - a))
    return mixed.eval()


rows = []
for number, item in enumerate(items):
    semantic, codes, frames, sem_prompt, prompt = item_tokens(model, item, prompt_frames)
    adapted = adapt_to_prompt(gen, sem_prompt, prompt, steps=60)
    variants = {"base": [gen] * 12, "ad60": [adapted] * 12, "ad60_level1": [adapted] + [gen] * 11,
                "wise05": [wise(adapted)] * 12, "ad60_l1loss": [level1_adapted(sem_prompt, prompt)] * 12}
    row = {"id": item["id"]}
    for name, models in variants.items():
        with torch.inference_mode():
            new = split_generate(models, semantic, prompt, frames, 2 + number)
            wave = model.decode(torch.cat([prompt, new], -1), item["prompt"][None, None])[0, 0, prompt_frames * 320:]
        row[name] = measure(item["prompt"], wave) | {k: v for k, v in dnsmos(wave, RATE).items() if k in ("sig", "bak")}
    rows.append(row)
    print(json.dumps(row), flush=True)
json.dump(rows, open(sys.argv[2], "w"), indent=1)
for key in ("base", "ad60", "ad60_level1", "wise05", "ad60_l1loss"):
    print(key, {m: round(float(np.mean([r[key][m] for r in rows])), 3) for m in ("sim", "voiced", "ovrl", "bak")})
