"""Carry a trained stage over to a new semantic tokenizer: each new id's embedding starts as the mean of the old ids'
embeddings it co-occurs with.

A stage trained on one tokenizer's ids (say log-mel k-means) knows what each of those ids means; after a switch to
another tokenizer (say chroma k-means, issue 20) its semantic embedding table is a list of arbitrary vectors for
the new ids, and fine-tuning must first unlearn them. Tokenizing the same training audio with both tokenizers gives,
for every new id, how often each old id sounds at the same frame; its embedding then starts at
``sum_old P(old | new) * E_old`` (ids never seen: the mean embedding), so the stage starts from what it knew
(issue 20's piano re-tune: validation loss at step 200 6.28 with this start, 6.35 from the old vectors as they were).
"""
from __future__ import annotations

import os
from typing import Sequence

import torch


@torch.inference_mode()
def token_cooccurrence(old_tokenizer, new_tokenizer, files: Sequence[str | os.PathLike], sample_rate: int = 16000,
                       progress: bool = True) -> torch.Tensor:
    """``Tensor[K_new, K_old]`` float64 counts of frames where new id ``j`` and old id ``i`` coincide, over ``files``
    (each read at ``sample_rate``; both tokenizers must run at one frame rate)."""
    from tqdm.auto import tqdm

    from audiolm_lib.audio import load_audio

    if abs(float(old_tokenizer.frame_rate) - float(new_tokenizer.frame_rate)) > 1e-6:
        raise ValueError(f"the tokenizers' frame rates differ ({old_tokenizer.frame_rate} vs "
                         f"{new_tokenizer.frame_rate} Hz): their ids do not align frame by frame")
    counts = torch.zeros(new_tokenizer.vocab_size, old_tokenizer.vocab_size, dtype=torch.float64)
    for path in tqdm(list(files), desc="id co-occurrence", unit="file", disable=not progress):
        wave = load_audio(path, sample_rate=sample_rate)[None]
        old, new = old_tokenizer.tokenize(wave, sample_rate)[0], new_tokenizer.tokenize(wave, sample_rate)[0]
        length = min(len(old), len(new))
        counts.index_put_((new[:length], old[:length]), torch.ones(length, dtype=torch.float64), accumulate=True)
    return counts


def transfer_embedding(old_embedding: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``Tensor[K_old, D]`` embeddings and ``Tensor[K_new, K_old]`` co-occurrence counts -> ``Tensor[K_new, D]``:
    each new id's co-occurrence-weighted mean of the old embeddings (unseen new ids: the mean of all old ones)."""
    if counts.shape[1] != old_embedding.shape[0]:
        raise ValueError(f"counts cover {counts.shape[1]} old ids, the embedding has {old_embedding.shape[0]}")
    totals = counts.sum(dim=1, keepdim=True)
    weights = (counts / totals.clamp_min(1.0)).to(old_embedding.dtype)
    new = weights @ old_embedding
    unseen = totals[:, 0] == 0
    new[unseen] = old_embedding.mean(dim=0)
    return new


def transfer_semantic_embedding(model: torch.nn.Module, counts: torch.Tensor) -> torch.nn.Module:
    """Replace ``model.semantic_embedding`` (an ``nn.Embedding`` over the old ids) by the transferred one over the new
    ids, in place; the vocabulary sizes must match the model's config (same K, new meaning)."""
    embedding = getattr(model, "semantic_embedding", None)
    if not isinstance(embedding, torch.nn.Embedding):
        raise TypeError(f"{type(model).__name__} has no semantic_embedding to transfer")
    if counts.shape[0] != embedding.num_embeddings:
        raise ValueError(f"the new tokenizer has {counts.shape[0]} ids, the model's semantic vocabulary "
                         f"{embedding.num_embeddings}: change semantic_vocab_size and retrain instead")
    with torch.no_grad():
        embedding.weight.copy_(transfer_embedding(embedding.weight.detach(), counts))
    return model
