"""Probe (issue 20, sixteenth pass): does a few steps of fine-tuning the acoustic generator on the prompt itself
(test-time speaker adaptation) lower its teacher-forced cross-entropy on the real continuation of an unheard voice?

Per validation item (3 s prompt + 3 s real continuation, one window): the level cross-entropy of the continuation
given the prompt and the true semantic ids, before and after adapting a copy of the generator on the prompt's own
codes with the training objective (SoundStorm masks drawn over the prompt, batch of copies), for a few learning rates,
step counts and parameter subsets; and the same adapted copy scored on another voice's continuation (is the gain the
voice's, or only "recorded speech"?). ``python adapt_probe.py MANIFEST OUT.json [config,...]``, seed 2."""
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/bench")
from validation_ladder import validation_clips  # noqa: E402

from audiolm_lib.eval.continuation_quality import speech_items  # noqa: E402
from audiolm_lib.lm.masking import training_mask  # noqa: E402
from audiolm_lib.pipeline import AudioLM  # noqa: E402

RATE = 16000
model = AudioLM.from_pretrained("/work/main/checkpoints/speech").eval()
gen = model.acoustic
CONFIGS = {  # name: (lr, steps, params, batch)
    "all_lr3e-4_s20": (3e-4, 20, "all", 8),
    "all_lr1e-3_s20": (1e-3, 20, "all", 8),
    "all_lr3e-4_s60": (3e-4, 60, "all", 8),
    "all_lr1e-4_s60": (1e-4, 60, "all", 8),
    "emb_lr1e-3_s40": (1e-3, 40, "emb", 8),
    "all_lr3e-4_s40_l1": (3e-4, 40, "all", 8),
}


def adapt(semantic, prompt_codes, lr, steps, which, batch, seed):
    tuned = copy.deepcopy(gen)
    tuned.train()
    if which == "all":
        params = list(tuned.parameters())
    elif which == "emb":
        params = [tuned.code_embedding.weight, tuned.head]
    for p in tuned.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    sem = semantic.expand(batch, -1)
    codes = prompt_codes.expand(batch, -1, -1)
    frames = codes.shape[-1]
    for _ in range(steps):
        mask = training_mask(batch, codes.shape[1], frames, generator=g, scored_levels=tuned.config.output_levels)
        logits, targets = tuned.masked_logits(sem, codes, mask)
        loss = torch.nn.functional.cross_entropy(logits.float(), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return tuned.eval()


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
    items = speech_items(validation_clips(Path(sys.argv[1]), "valid", 4), 3.0, 3.0, per_speaker=1)
    names = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else list(CONFIGS)
    prompt_frames = int(math.floor(3.0 * model.acoustic_rate))
    tok = []
    with torch.inference_mode():
        for item in items:
            semantic, codes = model.tokenize(torch.cat([item["prompt"], item["real"]]), RATE)
            tok.append((semantic, codes))
    rows = []
    for number, item in enumerate(items):
        semantic, codes = tok[number]
        other = (number + len(items) // 2) % len(items)
        osem, ocodes = tok[other]
        sem_prompt = semantic[:, :codes.shape[-1]][:, :prompt_frames]  # 50 Hz both
        row = {"id": item["id"], "other": items[other]["id"],
               "base": gen.level_cross_entropy(semantic, codes, prompt_frames)[:4].tolist(),
               "base_other": gen.level_cross_entropy(osem, ocodes, prompt_frames)[:4].tolist()}
        for name in names:
            lr, steps, which, batch = CONFIGS[name]
            t0 = time.time()
            with torch.enable_grad():
                tuned = adapt(semantic[:, :prompt_frames], codes[..., :prompt_frames], lr, steps, which, batch, 2 + number)
            row[name + "_sec"] = time.time() - t0
            row[name] = tuned.level_cross_entropy(semantic, codes, prompt_frames)[:4].tolist()
            row[name + "_other"] = tuned.level_cross_entropy(osem, ocodes, prompt_frames)[:4].tolist()
        rows.append(row)
        print(json.dumps({k: (np.round(v, 2).tolist() if isinstance(v, list) else v) for k, v in row.items()}), flush=True)
    json.dump(rows, open(sys.argv[2], "w"), indent=1)
    for key in ["base", "base_other"] + [n + s for n in names for s in ("", "_other")]:
        print(key, np.round(np.mean([r[key] for r in rows], axis=0), 3).tolist())
