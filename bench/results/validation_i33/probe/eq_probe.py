"""Probe (issue 20, fifteenth pass): the continuation given the prompt's long-term spectrum (a smooth EQ: the ratio
of the prompt's mean power spectrum to the continuation's, over their active frames, in mel bands, clipped), on
waves kept by cache_waves.py. ``python eq_probe.py WAVES.pt OUT.json``. Speaker similarity to the prompt, voiced
share, DNSMOS OVRL of rungs c / d, the real continuation and a stranger's real speech, each before and after."""
import json
import sys

import librosa
import numpy as np
import torch

sys.path.insert(0, "/work/main")
from audiolm_lib.eval.perceptual import dnsmos  # noqa: E402
from audiolm_lib.eval.speaker import speaker_similarity  # noqa: E402
from audiolm_lib.eval.voicing import voicing_report  # noqa: E402

torch.set_num_threads(1)
RATE, NFFT, HOP = 16000, 512, 128
WINDOW = torch.hann_window(NFFT)


def power_frames(wave):
    spec = torch.stft(wave, NFFT, HOP, window=WINDOW, return_complex=True)
    return spec, spec.abs().pow(2)  # [F, T]


def long_term(power, active_db=40.0):
    energy = power.sum(0)
    keep = energy > energy.max() * 10 ** (-active_db / 10)
    return power[:, keep].mean(1)


MEL = torch.from_numpy(librosa.filters.mel(sr=RATE, n_fft=NFFT, n_mels=32, fmin=50, fmax=8000, norm=None)).float()


def eq(wave, prompt, strength=1.0, max_boost=6.0, max_cut=18.0, bands=MEL):
    spec, power = power_frames(wave)
    _, prompt_power = power_frames(prompt)
    target, own = bands @ long_term(prompt_power), bands @ long_term(power)
    gain_db = 10 * torch.log10((target + 1e-10) / (own + 1e-10))
    gain_db = gain_db - (gain_db * own).sum() / own.sum()  # no overall level change (loudness is not the voice)
    gain_db = (strength * gain_db).clamp(-max_cut, max_boost)
    weights = bands / bands.sum(0, keepdim=True).clamp_min(1e-8)  # each bin: its bands' gains, by weight
    bin_db = weights.T @ gain_db
    out = torch.istft(spec * 10 ** (bin_db[:, None] / 20), NFFT, HOP, window=WINDOW, length=wave.shape[-1])
    return out * (wave.pow(2).mean().sqrt() / out.pow(2).mean().sqrt().clamp_min(1e-8))


def measure(prompt, wave):
    return {"sim": speaker_similarity(prompt, wave, RATE), "voiced": voicing_report(wave, RATE)["voiced_share"],
            "ovrl": dnsmos(wave, RATE)["ovrl"]}


if __name__ == "__main__":
    rows = torch.load(sys.argv[1])
    settings = {"eq10": dict(strength=1.0), "eq05": dict(strength=0.5), "eq10_b12": dict(strength=1.0, max_boost=12, max_cut=30)}
    results = []
    for row in rows:
        prompt = row["prompt"]
        out = {"id": row["id"], "set": row["set"]}
        for rung in ("acoustic", "pipeline", "resynthesis", "other"):
            wave = row[rung][: 5 * RATE]
            out[f"{rung}/off"] = measure(prompt, wave)
            for name, kw in settings.items():
                out[f"{rung}/{name}"] = measure(prompt, eq(wave, prompt, **kw))
        results.append(out)
        print(json.dumps(out), flush=True)
    json.dump(results, open(sys.argv[2], "w"), indent=0)
    keys = [k for k in results[0] if "/" in k]
    for key in keys:
        print(key, {m: round(float(np.mean([r[key][m] for r in results])), 3) for m in ("sim", "voiced", "ovrl")})
