"""Probe (issue 20, fifteenth pass): the validation ladder's waves of one seed, kept for trying post-decoding steps
on them without generating again. ``python cache_waves.py MANIFEST OUT.pt [SEED [on|off]]``: per validation item the prompt,
the real continuation, rungs b (codec resynthesis), c (acoustic generator on the true semantic ids) and d (the
pipeline) of ``checkpoints/speech`` as shipped (postfilter on; ``off``: without it), and a different speaker's real continuation."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/bench")
from validation_ladder import heldout_geometry, validation_clips  # noqa: E402

from audiolm_lib.eval.continuation_quality import speech_items  # noqa: E402
from audiolm_lib.eval.oracle_ladder import ladder_waves  # noqa: E402
from audiolm_lib.pipeline import AudioLM  # noqa: E402

torch.set_num_threads(1)
manifest, out = Path(sys.argv[1]), Path(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 2
postfilter = sys.argv[4] if len(sys.argv) > 4 else "on"  # "off": the decoder's own audio
prompt_seconds, _ = heldout_geometry("speech")
items = speech_items(validation_clips(manifest, "valid", 4), prompt_seconds, 5.0, per_speaker=2)
model = AudioLM.from_pretrained("/work/main/checkpoints/speech").eval()
if postfilter == "off":
    model.config.postfilter_strength = 0.0
rows = []
for number, item in enumerate(items):
    prompt, real = item["prompt"].float(), item["real"].float()
    waves, _ = ladder_waves(model, prompt, real, seed + number)
    others = items[number + 1:] + items[:number]
    other = next(o for o in others if o.get("speaker") != item.get("speaker"))
    rows.append({"id": item["id"], "set": item["set"], "speaker": item.get("speaker"), "prompt": prompt,
                 **waves, "other": other["real"].float()})
    print(number, item["id"], flush=True)
torch.save(rows, out)
