"""How much of the voice do a tokenizer's semantic ids carry? A validation-set measurement to choose speech tokens by.

AudioLM wants semantic ids that carry what is said and leave who says it to the acoustic stage: ids that also
carry the voice let the acoustic generator read the voice off them (and the semantic stage, trained on other
voices, then picks the voice). For each tokenizer, each validation clip is cut in halves and each half becomes a
histogram of its ids (bigrams included: short phone context). Two halves of one clip (one voice, different words)
should be no more alike than halves of two clips in different voices if the ids carried no voice:

- ``voice_auc``: the probability that a clip's own other half is more alike (cosine of the histograms) than a half
  of a clip in another voice; 0.5: the ids say nothing about the voice, 1: they identify it.
- ``voice_gap``: mean cosine same-clip minus different-voice.
- ``ids_used`` of ``vocab`` and ``id_entropy`` (nats) of the ids on the validation clips: ids that carry less voice
  must still be many and varied to carry the words (the semantic stage's cross-entropy checks that).

    python bench/semantic_voice_content.py TOKENIZER_DIR [...] --valid MANIFEST [--valid MANIFEST] [--json OUT]
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


def clips(manifests: list[Path], limit: int) -> list[tuple[str, np.ndarray]]:
    """``(voice, wave)`` of validation clips of at least 2 s: the manifest's speaker is the voice."""
    from audiolm_lib.datasets.manifest import split_clips

    return [(f"{manifest}:{entry.get('speaker', entry['id'])}", wave.numpy())
            for manifest in manifests for entry, wave in split_clips(manifest, "valid", RATE, limit=limit)
            if len(wave) >= 2 * RATE]


def half_histograms(ids: np.ndarray, vocab: int) -> list[np.ndarray]:
    """Unit-length histograms of unigrams and bigrams (hashed into ``vocab`` bins) of each half of ``ids``."""
    halves = []
    for part in np.array_split(ids, 2):
        unigram = np.bincount(part, minlength=vocab).astype(float)
        bigram = np.bincount((part[:-1] * 7919 + part[1:]) % vocab, minlength=vocab).astype(float)
        histogram = np.concatenate([unigram, bigram])
        halves.append(histogram / (np.linalg.norm(histogram) + 1e-9))
    return halves


def measure(tokenizer, data: list[tuple[str, np.ndarray]]) -> dict:
    firsts, seconds, voices, counts = [], [], [], np.zeros(tokenizer.vocab_size)
    for voice, wave in data:
        ids = tokenizer.tokenize(torch.from_numpy(wave)[None, None], RATE)[0].numpy()
        counts += np.bincount(ids, minlength=tokenizer.vocab_size)
        first, second = half_histograms(ids, tokenizer.vocab_size)
        firsts.append(first)
        seconds.append(second)
        voices.append(voice)
    similarity = np.stack(firsts) @ np.stack(seconds).T  # [first half of i, second half of j]
    voices = np.array(voices)
    from sklearn.metrics import roc_auc_score

    wins, same, different = [], [], []
    for i in range(len(voices)):  # per clip: its own other half (the one positive) against the other voices' halves
        others = similarity[i][voices != voices[i]]
        labels = np.r_[1, np.zeros(len(others))]
        wins.append(float(roc_auc_score(labels, np.r_[similarity[i, i], others])))
        same.append(similarity[i, i])
        different.extend(others.tolist())
    share = counts / counts.sum()
    used = share[share > 0]
    return {"voice_auc": float(np.mean(wins)), "voice_gap": float(np.mean(same) - np.mean(different)),
            "ids_used": int((counts > 0).sum()), "vocab": int(tokenizer.vocab_size),
            "id_entropy": float(-(used * np.log(used)).sum()), "clips": len(voices), "voices": len(set(voices))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokenizers", type=Path, nargs="+")
    parser.add_argument("--valid", type=Path, action="append", required=True, help="manifest (repeatable)")
    parser.add_argument("--max-clips", type=int, default=200, help="per manifest")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer

    results = {}
    for manifest in args.valid:
        data = clips([manifest], args.max_clips)
        for path in args.tokenizers:
            tokenizer = SemanticTokenizer.from_pretrained(path).eval()
            with torch.inference_mode():
                row = {"features": tokenizer.features.config.kind, **measure(tokenizer, data)}
            results.setdefault(str(manifest), {})[str(path)] = row
            print(json.dumps({"manifest": str(manifest), "tokenizer": str(path), **row}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
