"""A tiny seeded parallel generator in eval mode for the tests of its prompt parts (prior, summary)."""
import torch

from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig


def tiny_parallel(levels: int, codes: int, window_seconds: float, **overrides) -> ParallelAcousticLM:
    torch.manual_seed(0)
    config = ParallelAcousticLMConfig(semantic_vocab_size=32, codebook_size=codes, num_quantizers=levels,
                                      window_seconds=window_seconds, transformer=TransformerConfig(
                                          dim=32, depth=1, heads=2, max_seq_len=32), **overrides)
    return ParallelAcousticLM(config).eval()
