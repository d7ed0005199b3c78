"""Ladder waves (prompt, real, resynthesis, pipeline) of the validation items, saved for offline variants.
    PYTHONPATH=. python3 bench/results/validation_i42/probe/denoise/gen.py SEED OUT.pt FIRST COUNT (W: the folder holding data/ and gan_data/)"""
import os, sys, torch
from pathlib import Path
ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "bench"))
W = Path(os.environ.get("W", "/work"))
from validation_ladder import validation_clips
from audiolm_lib.eval.continuation_quality import speech_items
from audiolm_lib.eval.oracle_ladder import ladder_waves
from audiolm_lib.pipeline import AudioLM
torch.set_num_threads(1)
seed, out, first, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
clips = [c for m in (W / "data/recorded/manifest.jsonl", W / "gan_data/speech/manifest.jsonl")
         for c in validation_clips(Path(m), "valid", 4)]
items = speech_items(clips, 3.0, 5.0, per_speaker=2)[first:first + count]
model = AudioLM.from_pretrained(ROOT / "checkpoints/speech").eval()
rows = []
for item in items:
    waves, _ = ladder_waves(model, item["prompt"], item["real"], seed=seed)
    rows.append({"id": item["id"], "set": item["set"], "speaker": item.get("speaker"), "prompt": item["prompt"],
                 **{k: v for k, v in waves.items()}})
    print(item["id"], flush=True)
torch.save(rows, out)
