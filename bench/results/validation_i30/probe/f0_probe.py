"""Per validation item: the prompt's median F0 against the shipped generator's rung-c voiced share (seeds 0, 1)."""
import json, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/bench")
from validation_ladder import validation_clips
from audiolm_lib.eval.continuation_quality import speech_items
from audiolm_lib.eval.voicing import voicing_track
clips = []
for m in ("/work/data/recorded/manifest.jsonl", "/work/gan_data/speech/manifest.jsonl"):
    clips += validation_clips(Path(m), "valid", 4)
items = speech_items(clips, 3.0, 5.0, per_speaker=2)
runs = [json.load(open(f"/work/main/bench/results/validation_i30/shipped_s{s}.json"))["runs"][0]["per_item"] for s in (0, 1)]
out = []
for item, a, b in zip(items, *runs):
    assert item["id"] == a["id"] == b["id"], (item["id"], a["id"])
    track = voicing_track(item["prompt"], item["sample_rate"])
    f0 = np.asarray(track.f0) if hasattr(track, "f0") else None
    med = float(np.nanmedian(f0[np.isfinite(f0) & (f0 > 0)])) if f0 is not None and np.isfinite(f0).any() else None
    row = {"id": item["id"], "set": item["set"], "prompt_f0": med,
           **{f"{rung}_voiced": (a["rungs"][rung]["voiced_share"] + b["rungs"][rung]["voiced_share"]) / 2 for rung in ("real", "resynthesis", "acoustic")},
           "acoustic_sim": (a["rungs"]["acoustic"]["speaker_similarity"] + b["rungs"]["acoustic"]["speaker_similarity"]) / 2}
    out.append(row); print(json.dumps(row))
