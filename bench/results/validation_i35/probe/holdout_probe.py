"""Probe (issue 20, seventeenth pass): does the prompt itself tell when adaptation will hurt? Per voice (the first
validation item), a copy of the shipped generator is adapted (ad60's settings) on the prompt's first 2 s, and the
masked cross-entropy of its last 1 s (the first 2 s given, every level's SoundStorm mask, 16 fixed draws) is read
after 0, 10, 20, 30, 40 and 60 steps. ``python holdout_probe.py MANIFEST OUT.json`` (the recorded run was stopped
after 8 of its 13 voices, kept from its printout in holdout_recorded_partial.json)"""
import copy
import json
import sys

import torch
from shared import item_tokens, shipped_speech_model, voice_items

from audiolm_lib.lm.masking import training_mask

torch.set_num_threads(1)
model, gen, prompt_frames = shipped_speech_model()
items = voice_items(sys.argv[1])
FIT = 100
CHECKPOINTS = (0, 10, 20, 30, 40, 60)


def heldout_ce(acoustic, semantic, codes):
    gen_ = torch.Generator().manual_seed(123)
    b = 16
    mask = training_mask(b, codes.shape[1], codes.shape[-1], generator=gen_,
                         prompt_frames=torch.full((b,), FIT), scored_levels=acoustic.config.output_levels)
    with torch.inference_mode():
        return float(acoustic.eval()(semantic.expand(b, -1), codes.expand(b, -1, -1), mask=mask))


rows = []
for item in items:
    semantic, codes, _, sem_prompt, prompt = item_tokens(model, item, prompt_frames)
    ratio = gen.config.semantic_rate / gen.config.acoustic_rate
    sem_fit = sem_prompt[:, : int(FIT * ratio)]
    fit = prompt[..., :FIT]
    row = {"id": item["id"]}
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        tuned = copy.deepcopy(gen).train()
        opt = torch.optim.AdamW(tuned.parameters(), lr=1e-4, weight_decay=0.0)
        masks = torch.Generator().manual_seed(0)
        c8, s8 = fit.clone().expand(8, -1, -1), sem_fit.clone().expand(8, -1)
        for step in range(61):
            if step in CHECKPOINTS:
                row[step] = heldout_ce(tuned, sem_prompt, prompt)
                tuned.train()
            if step == 60:
                break
            loss = tuned(s8, c8, mask=training_mask(8, c8.shape[1], FIT, generator=masks,
                                                    scored_levels=tuned.config.output_levels))
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    rows.append(row)
    print(json.dumps(row), flush=True)
json.dump(rows, open(sys.argv[2], "w"), indent=1)
