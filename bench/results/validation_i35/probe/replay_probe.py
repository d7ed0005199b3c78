"""Probe (issue 20, seventeenth pass): does replaying training examples in each adaptation step keep the adapted
copy's pauses clean (rule 27's failure: a prompt without pauses, a continuation whose pauses fill with noise)?
Rung c (true semantic ids, then pf10), seed 2, the eight voices of the sixteenth pass's pause probe: the shipped
generator; ad60's copy; copies adapted as ad60 with ``R`` replayed 3 s windows of training clips per step beside the
prompt's 8 masked copies (loss: prompt + weight * replay). The replay pool: training clips of voices in no validation
set (espeak-ng training voices, klettres tn). ``python replay_probe.py MANIFEST OUT.json VOICE,...``"""
import copy
import json
import math
import random
import sys

import torch
from shared import RATE, compare_variants, shipped_speech_model, voice_items

from audiolm_lib.audio import load_audio
from audiolm_lib.lm.masking import training_mask
from audiolm_lib.lm.prompt_adaptation import adapt_to_prompt

VALIDATION_TTS = {"espeak_scotland_caleb", "piper_joe_fast", "espeak_rp_f2", "espeak_us_andy", "festival_kal",
                  "espeak_rp_f4", "espeak_nyc_adam", "espeak_rp_aunty"}


def replay_pool(model, clips: int = 16, seed: int = 0):
    rows = []
    for path, speakers in (("/work/ck/data/speech", None), ("/work/ck/data/recorded", {"klettres:tn"})):
        for line in open(f"{path}/manifest.jsonl"):
            row = json.loads(line)
            if row["split"] != "train" or row["duration"] < 4.0 or row["speaker"] in VALIDATION_TTS:
                continue
            if speakers is None and not row["speaker"].startswith("espeak_") or speakers and row["speaker"] not in speakers:
                continue
            rows.append((f"{path}/{row['audio']}", row["speaker"]))
    rng = random.Random(seed)
    tn = [r for r in rows if r[1] == "klettres:tn"][:3]
    espeak = rng.sample([r for r in rows if r[1] != "klettres:tn"], clips - len(tn))
    pool = []
    with torch.inference_mode():
        for audio, _ in espeak + tn:
            wave = load_audio(audio, RATE)
            semantic, codes = model.tokenize(wave.reshape(1, -1)[:, : 12 * RATE], RATE)
            pool.append((semantic.clone(), codes.clone()))
    return pool


def adapt_with_replay(acoustic, sem_prompt, prompt, pool, *, steps=60, lr=1e-4, batch=8, replay=4, weight=0.5,
                      seed=0):
    keep = prompt.shape[-1]
    ratio = acoustic.config.semantic_rate / acoustic.config.acoustic_rate
    sem_len = sem_prompt.shape[1]
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        codes = prompt.clone().expand(batch, -1, -1)
        semantic = sem_prompt.clone().expand(batch, -1)
        tuned = copy.deepcopy(acoustic).train()
        optimiser = torch.optim.AdamW(tuned.parameters(), lr=lr, weight_decay=0.0)
        masks = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            mask = training_mask(batch, codes.shape[1], keep, generator=masks, scored_levels=tuned.config.output_levels)
            loss = tuned(semantic, codes, mask=mask)
            r_sem, r_codes = [], []
            for _ in range(replay):
                s, c = pool[int(torch.randint(len(pool), (1,), generator=masks))]
                start = int(torch.randint(c.shape[-1] - keep + 1, (1,), generator=masks))
                first = min(s.shape[1] - sem_len, int(math.floor(start * ratio + 1e-6)))
                r_codes.append(c[..., start:start + keep]); r_sem.append(s[:, first:first + sem_len])
            r_codes, r_sem = torch.cat(r_codes), torch.cat(r_sem)
            r_mask = training_mask(replay, r_codes.shape[1], keep, generator=masks,
                                   scored_levels=tuned.config.output_levels)
            loss = loss + weight * tuned(r_sem, r_codes, mask=r_mask)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    for p in tuned.parameters():
        p.requires_grad_(False)
    return tuned.eval()


torch.set_num_threads(1)
model, gen, prompt_frames = shipped_speech_model()
items = voice_items(sys.argv[1], sys.argv[3].split(","))
pool = replay_pool(model)
print("pool", [c.shape[-1] for _, c in pool], flush=True)
compare_variants(model, items, prompt_frames, lambda sem_prompt, prompt: {
    "base": gen, "ad60": adapt_to_prompt(gen, sem_prompt, prompt, steps=60),
    "ad60_r4w05": adapt_with_replay(gen, sem_prompt, prompt, pool, replay=4, weight=0.5),
    "ad60_r8w1": adapt_with_replay(gen, sem_prompt, prompt, pool, replay=8, weight=1.0)}, sys.argv[2])
