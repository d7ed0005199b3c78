"""Diagnosis (issue 20, seventeenth pass): where in the continuation does ad60's copy put the noise that lowers the
pause-less prompts' DNSMOS BAK? Rung c (true semantic ids, pf10), seed 2, four voices: the frame level (dB, 20 ms) of
the real continuation, the shipped generator's and ad60's, split by the real continuation's pauses (frames > 35 dB
under its loudest) and speech, printed (kept in where_noise.json, rounded). ``python where_noise.py``"""
import json

import numpy as np
import torch
from shared import item_tokens, shipped_speech_model, voice_items

from audiolm_lib.lm.prompt_adaptation import adapt_to_prompt

torch.set_num_threads(2)
model, gen, prompt_frames = shipped_speech_model()


def levels(wave):
    w = np.asarray(wave, dtype=np.float64).reshape(-1)
    n = len(w) // 320
    return 10 * np.log10(np.mean(w[: n * 320].reshape(n, 320) ** 2, 1) + 1e-10)


def rung_c(acoustic, item, semantic, prompt, frames, seed=2):
    sampling = {"acoustic": {"temperature": model.config.acoustic.temperature, "top_k": None, "top_p": None}}
    with torch.inference_mode():
        new = acoustic.generate_acoustic(semantic, prompt, frames, sampling=sampling,
                                         generator=torch.Generator().manual_seed(seed))
        start = prompt.shape[-1] * int(model.codec.hop_length)
        return model.decode(torch.cat([prompt, new], -1), item["prompt"][None, None])[0, 0, start:]


out = {}
for manifest, voices in (("/work/gan_data/speech/manifest.jsonl", ["espeak_us_andy", "espeak_rp_f4", "festival_kal"]),
                         ("/work/data/recorded/manifest.jsonl", ["asterisk:es-co"])):
    for item in voice_items(manifest, voices):
        semantic, codes, frames, sem_prompt, prompt = item_tokens(model, item, prompt_frames)
        real = levels(item["real"])
        pause = real < real.max() - 35
        row = {"pause_share_real": float(pause.mean())}
        for name, acoustic in (("base", gen), ("ad60", adapt_to_prompt(gen, sem_prompt, prompt, steps=60))):
            lv = levels(rung_c(acoustic, item, semantic, prompt, frames))
            n = min(len(lv), len(pause))
            row[name] = {"pause_db": float(np.median(lv[:n][pause[:n]])) if pause[:n].any() else None,
                         "speech_db": float(np.median(lv[:n][~pause[:n]])),
                         "own_pause_share": float((lv < lv.max() - 35).mean())}
        row["real"] = {"pause_db": float(np.median(real[pause])) if pause.any() else None,
                       "speech_db": float(np.median(real[~pause]))}
        out[item["id"]] = row
        print(item["id"], json.dumps(row), flush=True)
