"""Semantic embedding transfer between tokenizers: weighted means, unseen ids, counts from real tokenizers, checks."""
import math

import pytest
import soundfile as sf
import torch

from audiolm_lib.training.vocab_transfer import token_cooccurrence, transfer_embedding, transfer_semantic_embedding


def test_each_new_id_gets_the_cooccurrence_weighted_mean_and_unseen_ids_the_mean():
    old = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    counts = torch.tensor([[3.0, 1.0, 0.0], [0.0, 0.0, 5.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    new = transfer_embedding(old, counts)
    assert torch.allclose(new[0], torch.tensor([0.75, 0.25]))
    assert torch.allclose(new[1], old[2])
    assert torch.allclose(new[2], old.mean(0))


def test_a_permuted_tokenizer_recovers_the_permuted_embedding():
    old = torch.randn(5, 3)
    permutation = torch.tensor([3, 0, 4, 1, 2])  # new id j == old id permutation[j]
    counts = torch.zeros(5, 5, dtype=torch.float64)
    counts[torch.arange(5), permutation] = 7.0
    assert torch.allclose(transfer_embedding(old, counts), old[permutation])


def test_the_model_embedding_is_replaced_in_place_and_sizes_are_checked():
    from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig
    from audiolm_lib.lm.transformer import TransformerConfig

    model = ParallelAcousticLM(ParallelAcousticLMConfig(
        semantic_vocab_size=4, codebook_size=8, num_quantizers=2, window_seconds=1.0,
        transformer=TransformerConfig(dim=8, depth=1, heads=2, max_seq_len=64)))
    before = model.semantic_embedding.weight.detach().clone()
    counts = torch.eye(4, dtype=torch.float64).flip(0)
    transfer_semantic_embedding(model, counts)
    assert torch.allclose(model.semantic_embedding.weight, before.flip(0))
    with pytest.raises(ValueError, match="semantic vocabulary"):
        transfer_semantic_embedding(model, torch.ones(6, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="semantic_embedding"):
        transfer_semantic_embedding(torch.nn.Linear(2, 2), counts)


def test_counts_from_two_tokenizers_on_audio(tmp_path):
    from audiolm_lib.semantic.tokenizer import fit_tokenizer

    rate = 16000
    t = torch.arange(rate) / rate
    for index, freq in enumerate([220.0, 330.0, 440.0, 550.0]):
        sf.write(tmp_path / f"tone{index}.wav", (0.3 * torch.sin(2 * math.pi * freq * t)).numpy(), rate)
    files = sorted(tmp_path.glob("*.wav"))
    old = fit_tokenizer(files, "logmel", 3, seed=0, progress=False)
    new = fit_tokenizer(files, "chroma", 4, seed=0, progress=False)
    counts = token_cooccurrence(old, new, files, progress=False)
    assert counts.shape == (4, 3)
    assert float(counts.sum()) == sum(min(old.num_frames(rate), new.num_frames(rate)) for _ in files)
