"""How much of the harmony do a tokenizer's semantic ids carry? A validation-set measurement to choose piano tokens by.

For each tokenizer: every id gets the mean chroma (librosa ``chroma_stft``, unit length per frame) of the training
frames it was given; on the validation clips each frame's chroma is then predicted by its id's mean, and the
cosine similarity of predicted and true chroma is averaged over sounding frames (``chroma_recall``; 1: the ids
fix the pitch classes, about the mean chroma's similarity (``chroma_of_the_mean``) when they say nothing about them).
Also: the share of validation frames whose strongest predicted pitch class is the true strongest one
(``top_class_accuracy``), how many ids are used, and whether the ids mark the attacks: each id's share of training
frames within a frame of a detected note onset (librosa ``onset_detect``) ranks the validation frames, and
``onset_auc`` is the probability that an onset frame ranks above a frame without one (0.5: the ids say nothing of
the attacks; ids that hold a chord through its repeated strikes score low).

    python bench/semantic_chroma_content.py TOKENIZER_DIR [...] --train W/data/piano/manifest.jsonl \
        --valid W/data/piano/manifest.jsonl [--max-train-clips 200]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE = 16000
HOP = 320


def frame_chroma(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(chroma[F, 12]`` unit length per frame, ``sounding[F]`` bool: RMS within 40 dB of the clip's loudest)."""
    import librosa

    chroma = librosa.feature.chroma_stft(y=wave, sr=RATE, n_fft=2048, hop_length=HOP, norm=None).T
    rms = librosa.feature.rms(y=wave, frame_length=2048, hop_length=HOP)[0]
    length = min(len(chroma), len(rms))
    chroma, rms = chroma[:length], rms[:length]
    sounding = rms > rms.max() * 10 ** (-40 / 20)
    return chroma / (np.linalg.norm(chroma, axis=1, keepdims=True) + 1e-9), sounding


def clips(manifest: Path, split: str, limit: int) -> list[np.ndarray]:
    from audiolm_lib.datasets.manifest import split_clips

    return [wave.numpy() for _, wave in split_clips(manifest, split, RATE, limit=limit)]


def onset_frames(wave: np.ndarray, frames: int) -> np.ndarray:
    """``bool[frames]``: frames within one frame of a detected note onset."""
    import librosa

    marked = np.zeros(frames + 2, dtype=bool)
    for frame in librosa.onset.onset_detect(y=wave, sr=RATE, hop_length=HOP):
        marked[max(0, frame - 1):frame + 2] = True
    return marked[:frames]


def rank_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a positive's score exceeds a negative's (ties count half): the ROC area (nan if one class
    is missing)."""
    from sklearn.metrics import roc_auc_score

    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, scores))


def measure(tokenizer, train: list[np.ndarray], valid: list[np.ndarray]) -> dict:
    sums = np.zeros((tokenizer.vocab_size, 12))
    counts = np.zeros(tokenizer.vocab_size)
    onset_counts, all_counts = np.zeros(tokenizer.vocab_size), np.zeros(tokenizer.vocab_size)
    for wave in train:
        chroma, sounding = frame_chroma(wave)
        ids = tokenizer.tokenize(torch.from_numpy(wave)[None, None], RATE)[0].numpy()
        length = min(len(ids), len(chroma))
        np.add.at(sums, ids[:length][sounding[:length]], chroma[:length][sounding[:length]])
        np.add.at(counts, ids[:length][sounding[:length]], 1)
        np.add.at(onset_counts, ids, onset_frames(wave, len(ids)))
        np.add.at(all_counts, ids, 1)
    onset_share = onset_counts / np.maximum(all_counts, 1)
    overall = sums.sum(0) / max(1, counts.sum())
    means = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], overall[None])
    means /= np.linalg.norm(means, axis=1, keepdims=True) + 1e-9
    overall /= np.linalg.norm(overall) + 1e-9
    recall, baseline, top, used, onset_scores, onset_labels = [], [], [], set(), [], []
    for wave in valid:
        chroma, sounding = frame_chroma(wave)
        ids = tokenizer.tokenize(torch.from_numpy(wave)[None, None], RATE)[0].numpy()
        onset_scores.append(onset_share[ids])
        onset_labels.append(onset_frames(wave, len(ids)))
        length = min(len(ids), len(chroma))
        ids, chroma = ids[:length][sounding[:length]], chroma[:length][sounding[:length]]
        used.update(ids.tolist())
        recall.extend((means[ids] * chroma).sum(1).tolist())
        baseline.extend((chroma @ overall).tolist())
        top.extend((means[ids].argmax(1) == chroma.argmax(1)).tolist())
    return {"chroma_recall": float(np.mean(recall)), "chroma_of_the_mean": float(np.mean(baseline)),
            "top_class_accuracy": float(np.mean(top)), "ids_used": len(used), "vocab": tokenizer.vocab_size,
            "valid_frames": len(recall),
            "onset_auc": rank_auc(np.concatenate(onset_scores), np.concatenate(onset_labels))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokenizers", type=Path, nargs="+")
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--valid", type=Path, required=True)
    parser.add_argument("--max-train-clips", type=int, default=200)
    parser.add_argument("--max-valid-clips", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer

    train = clips(args.train, "train", args.max_train_clips)
    valid = clips(args.valid, "valid", args.max_valid_clips)
    results = {}
    for path in args.tokenizers:
        tokenizer = SemanticTokenizer.from_pretrained(path).eval()
        with torch.inference_mode():
            results[str(path)] = {"features": tokenizer.features.config.kind, **measure(tokenizer, train, valid)}
        print(json.dumps({str(path): results[str(path)]}), flush=True)
    print(json.dumps({"train_clips": len(train), "valid_clips": len(valid), "tokenizers": results}, indent=1))


if __name__ == "__main__":
    main()
