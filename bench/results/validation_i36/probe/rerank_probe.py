"""Probe: best of N continuations, chosen by a voice cue that is not the evaluation's speaker encoder.

Every test-time lever so far changed the audio (envelope matching) or the generator (adaptation) and cost clean
recordings' sound. Choosing among the shipped model's own continuations changes neither. For each validation item
(the validation ladder's items: 3 s prompt + 5 s) this draws N continuations through the whole pipeline and scores
each by cues computed without resemblyzer (the instrument the targets are measured with):

- ``ltas``: minus the distance between the prompt's and the continuation's long-term average log-mel spectrum over
  active frames (timbre and channel; each spectrum is mean-removed so that loudness does not count);
- ``mfcc``: the cosine between MFCC 1-19 means and standard deviations over active frames.

It prints, per set, the mean over items of speaker similarity / DNSMOS OVRL / voiced share for the first draw (what
the pipeline gives now), the mean of the N draws, each cue's pick, and resemblyzer's own pick (an upper bound, not a
usable rule).

    python rerank_probe.py checkpoints/speech --manifest M1 --manifest M2 --draws 4 --seed 20 --json out.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _active_logmel(wave: torch.Tensor, rate: int) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(y=wave.numpy().astype(np.float32), sr=rate, n_fft=512, hop_length=160,
                                         n_mels=64, fmin=50, fmax=rate / 2)
    logmel = np.log(mel + 1e-8)
    energy = logmel.mean(axis=0)
    return logmel[:, energy > energy.max() - 6.0]  # frames within ~26 dB of the loudest: speech, not pauses


def ltas_score(prompt: torch.Tensor, wave: torch.Tensor, rate: int) -> float:
    a, b = _active_logmel(prompt, rate).mean(axis=1), _active_logmel(wave, rate).mean(axis=1)
    a, b = a - a.mean(), b - b.mean()
    return -float(np.sqrt(np.mean((a - b) ** 2)))


def mfcc_score(prompt: torch.Tensor, wave: torch.Tensor, rate: int) -> float:
    import librosa

    def stats(x: torch.Tensor) -> np.ndarray:
        mfcc = librosa.feature.mfcc(S=_active_logmel(x, rate), n_mfcc=20)[1:]
        return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)])

    a, b = stats(prompt), stats(wave)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--manifest", type=Path, action="append", required=True)
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--items", default=None, help="a slice of the items, START:STOP (to split the work)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from tqdm import tqdm
    from validation_ladder import validation_clips

    from audiolm_lib.eval.continuation_quality import speech_items
    from audiolm_lib.eval.perceptual import dnsmos
    from audiolm_lib.eval.speaker import speaker_similarity
    from audiolm_lib.eval.voicing import voicing_report, voicing_track
    from audiolm_lib.pipeline import AudioLM

    clips = [clip for path in args.manifest for clip in validation_clips(path, "valid", 4)]
    items = speech_items(clips, 3.0, 5.0, per_speaker=2)
    if args.items:
        start, stop = (int(x) for x in args.items.split(":"))
        items = items[start:stop]
    model = AudioLM.from_pretrained(args.model).eval()
    rows = []
    for number, item in enumerate(tqdm(items, desc="items")):
        prompt, real, rate = item["prompt"], item["real"], item["sample_rate"]
        real_track = voicing_track(real, rate)
        draws = []
        for draw in range(args.draws):
            generator = torch.Generator().manual_seed(args.seed * 1000 + number * args.draws + draw)
            with torch.inference_mode():
                wave = model.continue_audio(prompt, seconds=len(real) / rate, sample_rate=rate,
                                            generator=generator)[0, 0].float()
            draws.append({"speaker_similarity": speaker_similarity(prompt, wave, rate),
                          "dnsmos_ovrl": dnsmos(wave, rate).get("ovrl"),
                          "voiced_share": voicing_report(wave, rate, reference=real_track)["voiced_share"],
                          "ltas": ltas_score(prompt, wave, rate), "mfcc": mfcc_score(prompt, wave, rate)})
        rows.append({"id": item["id"], "set": item["set"], "draws": draws})
    args.json.write_text(json.dumps({"seed": args.seed, "draws": args.draws, "items": rows}, indent=1) + "\n")


def summarise(paths: list[Path]) -> dict:
    """Per set: the first draw, the mean of the draws, each cue's pick and resemblyzer's pick."""
    rows = [row for path in paths for row in json.loads(path.read_text())["items"]]
    out = {}
    for name in sorted({row["set"] for row in rows}):
        picks = {"first": [], "mean": [], "ltas": [], "mfcc": [], "resemblyzer (bound)": []}
        for row in (r for r in rows if r["set"] == name):
            draws = row["draws"]
            picks["first"].append(draws[0])
            picks["mean"].append({k: float(np.mean([d[k] for d in draws])) for k in draws[0]})
            for cue in ("ltas", "mfcc"):
                picks[cue].append(max(draws, key=lambda d: d[cue]))
            picks["resemblyzer (bound)"].append(max(draws, key=lambda d: d["speaker_similarity"]))
        out[name] = {pick: {k: float(np.mean([d[k] for d in chosen]))
                            for k in ("speaker_similarity", "dnsmos_ovrl", "voiced_share")}
                     for pick, chosen in picks.items()}
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["summarise"]:
        print(json.dumps(summarise([Path(p) for p in sys.argv[2:]]), indent=1))
    else:
        main()
