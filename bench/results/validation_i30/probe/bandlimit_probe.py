"""Probe (issue 20, twelfth pass): the recorded validation clips through an 8 kHz channel (16 kHz -> 8 kHz -> 16 kHz,
scipy's polyphase resampler), as a manifest for bench/validation_ladder.py; clips with no energy above 4.2 kHz
(under 1 % of the magnitude spectrum) are left out. Then, from the repository root:
    python3 bench/validation_ladder.py checkpoints/speech --manifest /work/val30/bl/manifest.jsonl \
        --continuation-seconds 5 --threads 1 --seed 0 --json bench/results/validation_i30/bl8k_s0.json   (and seed 1)
"""
import json

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SOURCE, OUT = "/work/data/recorded", "/work/val30/bl"
entries = []
for line in open(f"{SOURCE}/manifest.jsonl"):
    entry = json.loads(line)
    if entry["split"] != "valid":
        continue
    wave, rate = sf.read(f"{SOURCE}/{entry['audio']}")
    assert rate == 16000
    spectrum, freqs = np.abs(np.fft.rfft(wave)), np.fft.rfftfreq(len(wave), 1 / rate)
    if spectrum[freqs > 4200].sum() / spectrum.sum() < 0.01:
        continue
    name = f"{entry['id']}_bl8k.wav"
    sf.write(f"{OUT}/audio/{name}", resample_poly(resample_poly(wave, 1, 2), 2, 1).astype(np.float32), rate)
    entries.append(dict(entry, audio=f"audio/{name}"))
with open(f"{OUT}/manifest.jsonl", "w") as out:
    out.writelines(json.dumps(entry) + "\n" for entry in entries)
print(len(entries), "clips")
