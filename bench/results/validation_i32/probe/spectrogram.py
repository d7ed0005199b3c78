"""The first 3 s of one recorded validation voice's continuation (klettres, Arabic reader; 3 s prompt, seed 0) by
checkpoints/speech without and with its pitch postfilter: python3 spectrogram.py RECORDED_DIR OUT.png."""
import json
import sys
from pathlib import Path

import matplotlib
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from audiolm_lib.audio import load_audio  # noqa: E402
from audiolm_lib.eval.voicing import voicing_track  # noqa: E402
from audiolm_lib.pipeline import AudioLM  # noqa: E402

RATE = 16000
data, out = Path(sys.argv[1]), Path(sys.argv[2])
model = AudioLM.from_pretrained(Path(__file__).resolve().parents[4] / "checkpoints" / "speech")
entry = next(e for e in map(json.loads, open(data / "manifest.jsonl")) if e["split"] == "valid" and "klettres" in e["id"])
prompt = load_audio(data / entry["audio"], sample_rate=RATE)[..., : 3 * RATE]
fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
for axis, strength in zip(axes, (0.0, 1.0)):
    model.config.postfilter_strength = strength
    wave = model.continue_audio(prompt, 7.0, sample_rate=RATE, generator=torch.Generator().manual_seed(0))[0, 0]
    spec = torch.stft(wave[: 3 * RATE], 1024, 160, window=torch.hann_window(1024), return_complex=True).abs()
    spec = 20 * spec.clamp_min(1e-5).log10()
    axis.imshow(spec.numpy(), origin="lower", aspect="auto", vmin=float(spec.max()) - 80,
                extent=(0, 3, 0, RATE / 2000))
    axis.set_ylabel("kHz")
    axis.set_title(f"{entry['id']}: postfilter strength {strength:g} (voiced share "
                   f"{voicing_track(wave, RATE).voiced_share:.2f})")
axes[-1].set_xlabel("seconds into the continuation")
fig.tight_layout()
fig.savefig(out, dpi=55)
