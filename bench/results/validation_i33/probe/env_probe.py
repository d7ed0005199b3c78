"""Probe (issue 20, fifteenth pass): kNN matching of the spectral envelope, on the audio (no codec in the loop): each
active frame of the continuation gets the mel envelope of its k nearest active prompt frames (cosine on the
mean-removed log-mel), its own level kept, as a smooth time-varying gain on its STFT (its harmonics and phase kept).
``python env_probe.py WAVES.pt OUT.json``; compared with the long-term EQ of eq_probe.py."""
import json
import sys

import librosa
import numpy as np
import torch

sys.path.insert(0, "/work/main"); sys.path.insert(0, __file__.rsplit("/", 1)[0])
from eq_probe import eq, measure  # noqa: E402

torch.set_num_threads(1)
RATE, NFFT, HOP = 16000, 512, 160
WINDOW = torch.hann_window(NFFT)


def mel_bank(bands):
    return torch.from_numpy(librosa.filters.mel(sr=RATE, n_fft=NFFT, n_mels=bands, fmin=50, fmax=8000,
                                                norm=None)).float()


def env_match(wave, prompt, k=4, strength=1.0, bands=40, max_db=12.0, smooth=5, active_db=40.0):
    mel = mel_bank(bands)
    spec = torch.stft(wave, NFFT, HOP, window=WINDOW, return_complex=True)
    power = spec.abs().pow(2)
    prompt_power = torch.stft(prompt, NFFT, HOP, window=WINDOW, return_complex=True).abs().pow(2)
    own, ref = (mel @ power + 1e-9).log(), (mel @ prompt_power + 1e-9).log()  # [M, T]
    ref_energy = (prompt_power.sum(0) + 1e-12).log()
    ref = ref[:, ref_energy > ref_energy.max() - active_db * np.log(10) / 10]
    unit = lambda x: torch.nn.functional.normalize(x - x.mean(0, keepdim=True), dim=0)  # noqa: E731
    sims = unit(own).T @ unit(ref)  # [T, R]
    nearest = sims.topk(min(k, ref.shape[1]), dim=1).indices  # [T, k]
    target = ref.exp()[:, nearest].mean(-1).log()  # [M, T]: mean of the neighbours' mel powers
    gain = target - own
    gain = gain - gain.mean(0, keepdim=True)  # each frame's own level kept (the envelope's shape moved only)
    energy = (power.sum(0) + 1e-12).log()
    gain = gain * (energy > energy.max() - active_db * np.log(10) / 10).float()  # silence untouched
    if smooth > 1:  # gains smoothed over time: no frame-rate flutter
        gain = torch.nn.functional.avg_pool1d(gain[None], smooth, 1, smooth // 2, count_include_pad=False)[0]
    gain_db = (strength * gain * 10 / np.log(10)).clamp(-max_db, max_db)
    weights = mel / mel.sum(0, keepdim=True).clamp_min(1e-8)
    bin_db = weights.T @ gain_db  # [F, T]
    out = torch.istft(spec * 10 ** (bin_db / 20), NFFT, HOP, window=WINDOW, length=wave.shape[-1])
    return out * (wave.pow(2).mean().sqrt() / out.pow(2).mean().sqrt().clamp_min(1e-8))


if __name__ == "__main__":
    rows = torch.load(sys.argv[1])
    settings = {"knn4": dict(k=4), "knn4_s05": dict(k=4, strength=0.5), "knn16": dict(k=16)}
    results = []
    for row in rows:
        prompt = row["prompt"]
        out = {"id": row["id"], "set": row["set"]}
        for rung in ("acoustic", "pipeline", "other"):
            wave = row[rung][: 5 * RATE]
            out[f"{rung}/off"] = measure(prompt, wave)
            out[f"{rung}/eq05"] = measure(prompt, eq(wave, prompt, strength=0.5))
            for name, kw in settings.items():
                out[f"{rung}/{name}"] = measure(prompt, env_match(wave, prompt, **kw))
        results.append(out)
        print(json.dumps(out), flush=True)
    json.dump(results, open(sys.argv[2], "w"), indent=0)
    for key in [k for k in results[0] if "/" in k]:
        print(key, {m: round(float(np.mean([r[key][m] for r in results])), 3) for m in ("sim", "voiced", "ovrl")})
