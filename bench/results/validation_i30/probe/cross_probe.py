"""Probe (issue 20, twelfth pass): which input sets off rung c's unvoiced continuations, the true semantic ids or the
prompt's codes? For the recorded validation items of `bandlimit_probe.py`, rung c (the acoustic generator given the
true semantic ids of prompt + continuation and the prompt's codes) with each of the two taken from the full-band
clip or from its 8 kHz-channel copy; voiced share of the continuation, seeds 0 and 1. Writes cross_probe.json."""
import json
import math
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "bench"))
from validation_ladder import validation_clips  # noqa: E402

from audiolm_lib.eval.continuation_quality import speech_items  # noqa: E402
from audiolm_lib.eval.voicing import voicing_report  # noqa: E402
from audiolm_lib.pipeline import AudioLM  # noqa: E402

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
model = AudioLM.from_pretrained(ROOT / "checkpoints" / "speech")
full = {i["id"]: i for i in speech_items(validation_clips(Path("/work/data/recorded/manifest.jsonl"), "valid", 4), 3.0, 5.0, per_speaker=2)}
band = {i["id"]: i for i in speech_items(validation_clips(Path("/work/val30/bl/manifest.jsonl"), "valid", 4), 3.0, 5.0, per_speaker=2)}
rate, hop = model.sample_rate, int(model.codec.hop_length)
sampling = {stage: {key: getattr(getattr(model.config, stage), key) for key in ("temperature", "top_k", "top_p")}
            for stage in model.acoustic.sampling_stages}
rows = []
with torch.inference_mode():
    for item_id in [k for k in band if k in full]:
        tokens = {}
        for name, item in (("full", full[item_id]), ("band", band[item_id])):
            tokens[name] = model.tokenize(torch.cat([item["prompt"], item["real"]]), rate)
        row = {"id": item_id}
        for sem_from in ("full", "band"):
            for codes_from in ("full", "band"):
                semantic, codes = tokens[sem_from][0], tokens[codes_from][1]
                frames = min(codes.shape[-1], round(semantic.shape[1] * model.acoustic_rate / model.semantic_rate))
                prompt_frames = min(frames - 1, int(math.floor(3.0 * model.acoustic_rate + 1e-6)))
                shares = []
                for seed in (0, 1):
                    new = model.acoustic.generate_acoustic(semantic, codes[..., :prompt_frames], frames - prompt_frames,
                                                           sampling=sampling, generator=torch.Generator().manual_seed(seed))
                    levels = new.shape[1]
                    wave = model.decode(torch.cat([codes[:, :levels, :prompt_frames], new], -1))[0, 0, prompt_frames * hop:]
                    shares.append(voicing_report(wave.float(), rate)["voiced_share"] or 0.0)
                row[f"semantic_{sem_from}/codes_{codes_from}"] = sum(shares) / len(shares)
        rows.append(row)
        print(json.dumps(row), flush=True)
keys = [k for k in rows[0] if k != "id"]
summary = {k: sum(r[k] for r in rows) / len(rows) for k in keys}
print(json.dumps(summary))
json.dump({"items": rows, "means": summary}, open(Path(__file__).resolve().parents[1] / "cross_probe.json", "w"), indent=1)
