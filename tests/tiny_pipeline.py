"""One tiny random AudioLM for the tests that need a whole pipeline folder (CLI, demo, quality suite, README).

Importable from any test folder: pytest puts ``tests/`` (the folder of the root conftest.py) on ``sys.path``.
"""
from __future__ import annotations

from pathlib import Path

import torch

from audiolm_lib.codecs.soundstream import SoundStream, SoundStreamConfig
from audiolm_lib.lm.stages import CoarseLM, CoarseLMConfig, FineLM, FineLMConfig, SemanticLM, SemanticLMConfig
from audiolm_lib.lm.transformer import TransformerConfig
from audiolm_lib.pipeline import AudioLM
from audiolm_lib.semantic.tokenizer import SemanticTokenizer


def tiny_audiolm(num_fine_quantizers: int = 2, layout: str = "delay") -> AudioLM:
    """16 semantic ids, a 2 + ``num_fine_quantizers`` level x 32-code SoundStream, dim-32 depth-1 stages (seeded)."""
    torch.manual_seed(0)
    shape = TransformerConfig(dim=32, depth=1, heads=2, max_seq_len=512)
    return AudioLM(
        SemanticTokenizer.mfcc(torch.randn(16, 39)),
        SoundStream(SoundStreamConfig(channels=4, latent_dim=16, num_quantizers=2 + num_fine_quantizers,
                                      codebook_size=32)),
        SemanticLM(SemanticLMConfig(vocab_size=16, window_seconds=2.0, transformer=shape)),
        CoarseLM(CoarseLMConfig(semantic_vocab_size=16, codebook_size=32, num_coarse_quantizers=2,
                                window_seconds=1.0, layout=layout, transformer=shape)),
        FineLM(FineLMConfig(codebook_size=32, num_coarse_quantizers=2, num_fine_quantizers=num_fine_quantizers,
                            window_seconds=0.5, layout=layout, transformer=shape)),
    )


def tiny_shipped_audiolm(levels: int = 4) -> AudioLM:
    """The shipped architecture in miniature (SpectralCodec + parallel acoustic generator, random, seeded)."""
    from audiolm_lib.demo import tiny_random_audiolm

    return tiny_random_audiolm(levels)


def tiny_model_dir(directory: Path, **settings) -> Path:
    """:func:`tiny_audiolm` saved as a pipeline folder in ``directory``."""
    return tiny_audiolm(**settings).save_pretrained(directory)


def tiny_parallel_audiolm(window_seconds: float = 1.0) -> AudioLM:
    """The shipped architecture, tiny and random: a 3-level x 32-code SpectralCodec and a ParallelAcousticLM
    whose ``window_seconds`` windows (50 frames per second) make a few seconds span several windows (seeded)."""
    from audiolm_lib.codecs.spectral import SpectralCodec, SpectralCodecConfig
    from audiolm_lib.lm.parallel import ParallelAcousticLM, ParallelAcousticLMConfig

    torch.manual_seed(0)
    shape = TransformerConfig(dim=32, depth=1, heads=2, max_seq_len=512)
    codec = SpectralCodec(SpectralCodecConfig(dim=16, encoder_depth=1, decoder_depth=1, upsampler_dim=16,
                                              upsampler_depth=1, latent_dim=8, num_quantizers=3, codebook_size=32,
                                              phase_iterations=2))
    return AudioLM(
        SemanticTokenizer.mfcc(torch.randn(16, 39)), codec,
        SemanticLM(SemanticLMConfig(vocab_size=16, window_seconds=2.0, transformer=shape)),
        acoustic=ParallelAcousticLM(ParallelAcousticLMConfig(
            semantic_vocab_size=16, codebook_size=32, num_quantizers=3, window_seconds=window_seconds,
            steps_per_level=(2, 1), transformer=shape)),
    ).eval()
