"""Which semantic tokens carry content rather than voice or timbre? A held-out measurement to choose by.

Semantic tokens should say *what* is said or played and as little as possible about *who* says it or *which*
piano plays it (AudioLM leaves that to the acoustic tokens). For each tokenizer:

- speech: the same sentences read by held-out voices (splits.HELDOUT_SPEAKER_IDENTITIES, never in training);
  ``same_content`` = token agreement of two voices reading the same sentence, ``same_source`` = agreement of one
  voice reading two different sentences;
- piano: held-out pieces rendered with a training soundfont and with the held-out one; ``same_content`` = the
  same excerpt on two pianos, ``same_source`` = two excerpts on one piano.

Agreement is 1 - the length-normalised DTW cost of the two token strings (0/1 token mismatch), so tempo and
duration differences do not count. ``content_index = same_content - same_source``: how much more two
renderings of the same content agree than two contents from the same source (higher is better; 0 means the
tokens track the voice / piano as much as the content). Also reported: the tokens' bigram predictability
(``1 - H(x_t | x_t-1) / H(x_t)``) and how many of the K clusters are used on held-out audio.

    python bench/bench_semantic_tokens.py TOKENIZER_DIR [TOKENIZER_DIR ...] [--sentences 8] [--pieces 6]
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

SENTENCES = (
    "The old man walked slowly to the river and sat down on a stone.",
    "Please bring me the green cup from the kitchen table.",
    "We will meet again tomorrow morning before the train leaves.",
    "A small bird sang in the tree outside my window all day.",
    "Seven children played football in the park after school.",
    "She opened the letter and smiled at the first line.",
    "The bakery on the corner sells fresh bread every morning.",
    "Thunder rolled over the hills as the storm came closer.",
    "He forgot his umbrella and came home soaking wet.",
    "Our neighbours painted their front door bright yellow.",
)


def dtw_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """1 - (minimum number of mismatching aligned pairs) / (path length), by dynamic time warping."""
    n, m = len(a), len(b)
    mismatch = (a[:, None] != b[None, :]).astype(np.float64)
    cost = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1))
    cost[0, 0] = 0.0
    for i in range(1, n + 1):  # row by row; the inner minimum is vectorised over the diagonal/up moves
        row_cost, row_steps = cost[i], steps[i]
        up, diag = cost[i - 1, 1:], cost[i - 1, :-1]
        for j in range(1, m + 1):
            options = (diag[j - 1], up[j - 1], row_cost[j - 1])
            k = int(np.argmin(options))
            row_cost[j] = options[k] + mismatch[i - 1, j - 1]
            row_steps[j] = (steps[i - 1, j - 1], steps[i - 1, j], row_steps[j - 1])[k] + 1
    return 1.0 - cost[n, m] / steps[n, m]


def bigram_predictability(tokens: list[np.ndarray], vocab: int) -> float:
    counts = np.zeros((vocab, vocab))
    for seq in tokens:
        np.add.at(counts, (seq[:-1], seq[1:]), 1)
    joint = counts / counts.sum()
    marginal = joint.sum(1)
    nz = joint > 0
    h_next = -(joint.sum(0)[joint.sum(0) > 0] * np.log(joint.sum(0)[joint.sum(0) > 0])).sum()
    conditional = -(joint[nz] * np.log((joint / np.maximum(marginal[:, None], 1e-12))[nz])).sum()
    return float(1.0 - conditional / max(h_next, 1e-12))


def speech_probe(num_sentences: int) -> dict[str, list[np.ndarray]]:
    """One voice per held-out identity x sentences -> waves (16 kHz), keyed by voice name."""
    from audiolm_lib.datasets.tts import synthesize
    from audiolm_lib.datasets.heldout import heldout_voices

    voices = heldout_voices()
    if len(voices) < 2:
        raise RuntimeError("need at least two held-out voices installed (bash .ci/install)")
    return {v.name: [synthesize(v, text) for text in SENTENCES[:num_sentences]] for v in voices}


def piano_probe(num_pieces: int, seconds: float = 6.0) -> dict[str, list[np.ndarray]]:
    """Held-out pieces rendered with a training soundfont and with the held-out soundfont."""
    from audiolm_lib.datasets.piano import render_notes
    from audiolm_lib.datasets.splits import HELDOUT_SOUNDFONT, TRAIN_SOUNDFONTS
    from audiolm_lib.datasets.heldout import heldout_pieces, piece_excerpt, soundfont_file

    notes = []
    for _, path in heldout_pieces():
        excerpt = piece_excerpt(path, seconds)
        if excerpt:
            notes.append(excerpt)
        if len(notes) == num_pieces:
            break
    return {font: [render_notes(n, 16000, soundfont_file(font)) for n in notes]
            for font in (TRAIN_SOUNDFONTS[0], HELDOUT_SOUNDFONT)}


def measure(tokenizer, probe: dict[str, list[np.ndarray]]) -> dict:
    sources = list(probe)
    tokens = {s: [tokenizer.tokenize(torch.from_numpy(w)[None, None].float(), 16000)[0].numpy() for w in probe[s]]
              for s in sources}
    count = min(len(v) for v in tokens.values())
    same_content = [dtw_agreement(tokens[a][i], tokens[b][i])
                    for a, b in itertools.combinations(sources, 2) for i in range(count)]
    same_source = [dtw_agreement(tokens[s][i], tokens[s][j])
                   for s in sources for i, j in itertools.combinations(range(count), 2)]
    everything = [t for s in sources for t in tokens[s]]
    used = len(np.unique(np.concatenate(everything)))
    return {"same_content": float(np.mean(same_content)), "same_source": float(np.mean(same_source)),
            "content_index": float(np.mean(same_content) - np.mean(same_source)),
            "bigram_predictability": bigram_predictability(everything, int(tokenizer.vocab_size)),
            "clusters_used": used, "vocab_size": int(tokenizer.vocab_size), "items": len(everything)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokenizers", nargs="+", type=Path)
    parser.add_argument("--kind", choices=("speech", "piano"), required=True)
    parser.add_argument("--sentences", type=int, default=8)
    parser.add_argument("--pieces", type=int, default=6)
    args = parser.parse_args()
    from audiolm_lib.semantic.tokenizer import SemanticTokenizer

    torch.set_num_threads(2)
    probe = speech_probe(args.sentences) if args.kind == "speech" else piano_probe(args.pieces)
    rows = {}
    for directory in args.tokenizers:
        rows[str(directory)] = measure(SemanticTokenizer.from_pretrained(directory).eval(), probe)
    print(json.dumps({"kind": args.kind, "sources": list(probe), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
