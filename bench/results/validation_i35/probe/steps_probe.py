"""Diagnosis (issue 20, seventeenth pass): does ad60's copy devoice espeak_us_andy's continuation gradually (the more
steps, the less voiced: overfitting) or at once? Rung c (true semantic ids, pf10), copies after 0, 15, 30, 45 and 60
of ad60's steps (one run, snapshots), three generation seeds each; speaker similarity / voiced share / DNSMOS OVRL.
``python steps_probe.py OUT.json``"""
import copy
import json
import sys

import numpy as np
import torch
from shared import item_tokens, rung_c_measures, shipped_speech_model, voice_items

from audiolm_lib.lm.masking import training_mask

torch.set_num_threads(2)
model, gen, prompt_frames = shipped_speech_model()
SNAPSHOTS = (0, 15, 30, 45, 60)


def snapshots(sem_prompt, prompt, batch=8, lr=1e-4, seed=0):
    copies = {}
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        codes, semantic = prompt.clone().expand(batch, -1, -1), sem_prompt.clone().expand(batch, -1)
        tuned = copy.deepcopy(gen).train()
        opt = torch.optim.AdamW(tuned.parameters(), lr=lr, weight_decay=0.0)
        masks = torch.Generator().manual_seed(seed)
        for step in range(61):
            if step in SNAPSHOTS:
                copies[step] = copy.deepcopy(tuned).eval()
                for p in copies[step].parameters():
                    p.requires_grad_(False)
            if step == 60:
                break
            loss = tuned(semantic, codes, mask=training_mask(batch, codes.shape[1], codes.shape[-1], generator=masks,
                                                             scored_levels=tuned.config.output_levels))
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    return copies


rows = {}
for manifest, voices in (("/work/gan_data/speech/manifest.jsonl", ["espeak_us_andy", "espeak_rp_f4", "festival_kal"]),):
    for item in voice_items(manifest, voices):
        semantic, _, frames, sem_prompt, prompt = item_tokens(model, item, prompt_frames)
        for step, acoustic in snapshots(sem_prompt, prompt).items():
            ms = [rung_c_measures(model, acoustic, item, semantic, prompt, frames, s) for s in (2, 3, 4)]
            mean = {k: float(np.mean([m[k] for m in ms])) for k in ("sim", "voiced", "ovrl", "bak")}
            rows[f"{item['id']}@{step}"] = mean
            print(item["id"], step, {k: round(v, 3) for k, v in mean.items()},
                  "voiced per seed", [round(m["voiced"], 2) for m in ms], flush=True)
json.dump(rows, open(sys.argv[1], "w"), indent=1)
