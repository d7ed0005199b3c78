"""Probe: does moving the continuation's median F0 to the prompt's (librosa pitch_shift: pitch and formants
together) move speaker similarity, and at what DNSMOS cost? Validation voices only; seeds no rule used.

    PYTHONPATH=$PWD python3 bench/results/validation_i37/pitch_probe.py 20 probe_s20.json checkpoints/speech \
        W/data/recorded/manifest.jsonl W/gan_data/speech/manifest.jsonl
"""
import json, sys, math
import numpy as np, torch
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "bench"))
from validation_ladder import validation_clips
from audiolm_lib.eval.continuation_quality import speech_items
from audiolm_lib.eval.oracle_ladder import ladder_waves
from audiolm_lib.eval.speaker import speaker_similarity
from audiolm_lib.eval.voicing import voicing_track
from audiolm_lib.eval.perceptual import dnsmos
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.audio import prepare_wave
import librosa

torch.set_num_threads(1)
seed = int(sys.argv[1]); out = sys.argv[2]
model = AudioLM.from_pretrained(sys.argv[3]).eval()
clips = [c for m in sys.argv[4:] for c in validation_clips(Path(m), "valid", 4)]
items = speech_items(clips, 3.0, 5.0, per_speaker=2)
rate = model.sample_rate

def median_f0(wave):
    track = voicing_track(wave, rate)
    f0 = np.asarray(track.f0); voiced = np.asarray(track.voiced, bool)
    f0 = f0[voiced & np.isfinite(f0)]
    return float(np.median(f0)) if f0.size >= 5 else None

rows = []
for n, item in enumerate(items):
    prompt = prepare_wave(item["prompt"], item["sample_rate"], rate)[0, 0]
    real = prepare_wave(item["real"], item["sample_rate"], rate)[0, 0]
    waves, _ = ladder_waves(model, prompt, real, seed + n)
    others = items[n + 1:] + items[:n]
    other = next(o for o in others if o.get("speaker") != item.get("speaker"))
    other_wave = prepare_wave(other["real"], other["sample_rate"], rate)[0, 0]
    f0p = median_f0(prompt)
    row = {"id": item["id"], "set": item["set"], "f0_prompt": f0p,
           "baseline": speaker_similarity(prompt, other_wave, rate)}
    for rung in ("real", "acoustic", "pipeline"):
        wave = waves[rung]
        f0c = median_f0(wave)
        row[rung] = {"f0": f0c, "sim": speaker_similarity(prompt, wave, rate), "dnsmos": dnsmos(wave, rate)["ovrl"]}
        if f0p and f0c:
            steps = float(np.clip(12 * math.log2(f0p / f0c), -12, 12))
            shifted = torch.from_numpy(librosa.effects.pitch_shift(wave.numpy(), sr=rate, n_steps=steps)).float()
            row[rung].update(steps=steps, sim_shifted=speaker_similarity(prompt, shifted, rate),
                             dnsmos_shifted=dnsmos(shifted, rate)["ovrl"], f0_shifted=median_f0(shifted))
    rows.append(row); print(json.dumps(row), flush=True)
json.dump(rows, open(out, "w"), indent=1)
