"""Diagnosis (issue 20, sixteenth pass, after rule 27): do the voices whose DNSMOS prompt adaptation lowers have
prompts without pauses (so the adapted copy never sees the silence ids and codes it must still make)? Per validation
voice: the share of the first item's 3 s prompt in 20 ms frames quieter than 35 dB under its loudest, against ad60's
and ad60em05's pipeline DNSMOS over pf10's (per_voice.py's means). ``python probe/silence_check.py``"""
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/bench")
from validation_ladder import validation_clips  # noqa: E402

from audiolm_lib.eval.continuation_quality import speech_items  # noqa: E402

HERE = Path(__file__).resolve().parents[1]


def ratios(name):
    out = defaultdict(list)
    for seed in (0, 1):
        base = {i["id"]: i for i in json.load(open(HERE.parent / "validation_i32" / f"pf10_s{seed}.json"))["runs"][0]["per_item"]}
        for item in json.load(open(HERE / f"{name}_s{seed}.json"))["runs"][0]["per_item"]:
            out[item["id"].split("#")[0]].append(item["rungs"]["pipeline"]["dnsmos_ovrl"]
                                                 / base[item["id"]]["rungs"]["pipeline"]["dnsmos_ovrl"])
    return {voice: float(np.mean(values)) for voice, values in out.items()}


silence = {}
for manifest in ("/work/data/recorded/manifest.jsonl", "/work/gan_data/speech/manifest.jsonl"):
    for item in speech_items(validation_clips(Path(manifest), "valid", 4), 3.0, 5.0, per_speaker=1):
        frames = item["prompt"][: len(item["prompt"]) // 320 * 320].reshape(-1, 320)
        level = 10 * torch.log10(frames.pow(2).mean(1) + 1e-12)
        silence[item["speaker"]] = float((level < level.max() - 35).float().mean())
ad60, both = ratios("ad60"), ratios("ad60em05")
voices = sorted(silence, key=lambda v: ad60.get(v, 9))
for voice in voices:
    print(f"{voice:24s} quiet share {silence[voice]:.2f}  ad60 x{ad60.get(voice, float('nan')):.2f}  "
          f"ad60em05 x{both.get(voice, float('nan')):.2f}")
keys = [v for v in voices if v in ad60]
print("correlation (quiet share, ad60 ratio):", round(float(np.corrcoef([silence[v] for v in keys], [ad60[v] for v in keys])[0, 1]), 3))
