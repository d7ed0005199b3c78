"""Probe (issue 20, fifteenth pass): does the acoustic generator's continuation depend on the prompt's codes at all?
Rung c (true semantic ids of prompt + real continuation) generated twice per validation item: after its own prompt's
codes, and after a different speaker's prompt codes (the semantic ids unchanged). Median F0 of each and speaker
similarity to each prompt. ``python prompt_swap.py MANIFEST OUT.json``, seed 2."""
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/bench")
from validation_ladder import validation_clips  # noqa: E402

from audiolm_lib.eval.continuation_quality import speech_items  # noqa: E402
from audiolm_lib.eval.speaker import speaker_similarity  # noqa: E402
from audiolm_lib.eval.voicing import voicing_track  # noqa: E402
from audiolm_lib.pipeline import AudioLM  # noqa: E402

torch.set_num_threads(2)
RATE = 16000
model = AudioLM.from_pretrained("/work/main/checkpoints/speech").eval()
items = speech_items(validation_clips(Path(sys.argv[1]), "valid", 4), 3.0, 5.0, per_speaker=1)


def median_f0(wave):
    track = voicing_track(wave, RATE)
    f0 = track.f0[track.voiced & track.active]
    return float(np.median(f0)) if len(f0) else float("nan")


def rung_c(semantic, prompt_codes, frames, seed):
    sampling = {stage: {key: getattr(getattr(model.config, stage), key) for key in ("temperature", "top_k", "top_p")}
                for stage in model.acoustic.sampling_stages}
    new = model.acoustic.generate_acoustic(semantic, prompt_codes, frames, sampling=sampling,
                                           generator=torch.Generator().manual_seed(seed))
    start = prompt_codes.shape[-1] * int(model.codec.hop_length)
    return model.decode(torch.cat([prompt_codes[:, : new.shape[1]], new], -1))[0, 0, start:]


rows = []
with torch.inference_mode():
    for number, item in enumerate(items):
        other = items[(number + len(items) // 2) % len(items)]
        if other["speaker"] == item["speaker"]:
            continue
        semantic, codes = model.tokenize(torch.cat([item["prompt"], item["real"]]), RATE)
        prompt_frames = int(math.floor(3.0 * model.acoustic_rate))
        other_codes = model.tokenize(other["prompt"], RATE)[1][..., :prompt_frames]
        frames = codes.shape[-1] - prompt_frames
        own = rung_c(semantic, codes[..., :prompt_frames], frames, 2 + number)
        swapped = rung_c(semantic, other_codes, frames, 2 + number)
        row = {"id": item["id"], "other": other["id"],
               "f0": {"prompt": median_f0(item["prompt"]), "other_prompt": median_f0(other["prompt"]),
                      "own": median_f0(own), "swapped": median_f0(swapped)},
               "sim_own_to_prompt": speaker_similarity(item["prompt"], own, RATE),
               "sim_swapped_to_prompt": speaker_similarity(item["prompt"], swapped, RATE),
               "sim_swapped_to_other": speaker_similarity(other["prompt"], swapped, RATE),
               "sim_own_to_other": speaker_similarity(other["prompt"], own, RATE)}
        rows.append(row)
        print(json.dumps(row), flush=True)
json.dump(rows, open(sys.argv[2], "w"), indent=1)
for key in ("sim_own_to_prompt", "sim_swapped_to_prompt", "sim_swapped_to_other", "sim_own_to_other"):
    print(key, round(float(np.mean([r[key] for r in rows])), 3))
