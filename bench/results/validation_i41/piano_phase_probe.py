"""The piano codec's phase: the shipped phase-locked start + 8 iterations against PGHI (validation pieces only).

    PYTHONPATH=. python3 bench/results/validation_i41/piano_phase_probe.py MANIFEST OUT.json OFFSET CLIPS

The manifest's ``valid`` split (pieces no piano stage trained on), clips OFFSET .. OFFSET + CLIPS, 10 s each. Per
version of the codec's resynthesis (12 levels): log-mel distance to the original, harmonic ratio and chroma
similarity to the original (``audiolm_lib.eval.music``).
"""
import json, statistics, sys, torch
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.codecs.spectral_ops import reconstruct_phase
from audiolm_lib.codecs.pghi import pghi_phase
from audiolm_lib.measures import mel_distance
from audiolm_lib.eval.music import music_measures, chroma_similarity
from codec_clips import decoded_magnitude, validation_clips
torch.set_num_threads(1)
man, out, offset, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
codec = AudioLM.from_pretrained("checkpoints/piano").codec.eval(); f = codec.front_end
res = []
for r, x in validation_clips(man, offset, count):
    mag = decoded_magnitude(codec, x); mt = mag.transpose(1, 2)
    with torch.inference_mode():
        waves = {"real": x[0, 0], "locked8": reconstruct_phase(mag, f, 8)}
        for tol in (1e-4, 1e-6):
            start = pghi_phase(mt, 640, 80, tolerance=tol)
            waves[f"pghi_tol{tol:g}"] = reconstruct_phase(mag, f, 0, initial_phase=start)
            waves[f"pghi_tol{tol:g}_gl1"] = reconstruct_phase(mag, f, 1, initial_phase=start)
    row = {"id": r["id"]}
    for n, w in waves.items():
        w = w.reshape(-1)[: x.shape[-1]]
        m = music_measures(w.numpy(), 16000)
        row[n] = {"mel": float(mel_distance(x[0, 0], w, 16000)), "harmonic_ratio": m["harmonic_ratio"],
                  "chroma_to_real": chroma_similarity(x[0, 0].numpy(), w.numpy(), 16000)}
    res.append(row); print(r["id"], flush=True)
names = [k for k in res[0] if k != "id"]
summary = {n: {m: statistics.mean(r[n][m] for r in res if r[n][m] is not None)
               for m in ("mel", "harmonic_ratio", "chroma_to_real")} for n in names}
print(json.dumps(summary, indent=0)); json.dump({"clips": res, "means": summary}, open(out, "w"))
