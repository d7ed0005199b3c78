"""Why rule 46's fresh clips did not gain: per validation clip, the share of the codec's decoded STFT coefficients
under 1e-4 of the loudest (what PGHI's tolerance leaves at phase 0), against the log-mel gain of tolerance 1e-6.

    PYTHONPATH=. python3 bench/results/validation_i41/quiet_share.py > quiet_share.txt
"""
import json, statistics
from pathlib import Path

from audiolm_lib.pipeline import AudioLM
from codec_clips import decoded_magnitude, validation_clips

HERE = Path(__file__).resolve().parent
codec = AudioLM.from_pretrained("checkpoints/speech").codec.eval()
runs = {"exploration (clips 0-29)": (HERE / "probe" / "tolerance_rec_0_30.json", 0, 30),
        "rule 46 (clips 60-99)": (HERE / "rule46" / "rule46_codec.json", 60, 40)}
for name, (path, offset, count) in runs.items():
    clips = {c["id"]: c for c in json.loads(path.read_text())["clips"]}
    rows = []
    for row, wave in validation_clips("/work/data/recorded/manifest.jsonl", offset, count, seconds=5.0):
        magnitude = decoded_magnitude(codec, wave)
        quiet = float((magnitude < magnitude.max() * 1e-4).float().mean())
        gain = clips[row["id"]]["pghi"]["mel"] - clips[row["id"]]["tol1e-06"]["mel"]
        rows.append((row["source"], quiet, gain))
    print(f"{name}: quiet share {statistics.mean(r[1] for r in rows):.3f}, log-mel gain "
          f"{statistics.mean(r[2] for r in rows):+.3f}, correlation {statistics.correlation([r[1] for r in rows], [r[2] for r in rows]):.2f}")
    for source in sorted({r[0] for r in rows}):
        some = [r for r in rows if r[0] == source]
        print(f"  {source:36s} {len(some):2d} clips  quiet share {statistics.mean(r[1] for r in some):.3f}  "
              f"log-mel gain {statistics.mean(r[2] for r in some):+.3f}")
