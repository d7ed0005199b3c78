"""The small contracts that let codecs, semantic tokenizers and the language-model stages plug together.

Stage models know nothing of audio; codecs and tokenizers know nothing of language models. Only
``audiolm_lib.pipeline`` and ``audiolm_lib.training`` see all of them, through these Protocols.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class CodecProtocol(Protocol):
    """An acoustic codec with a residual vector quantizer (SoundStream, EnCodec, ...).

    Attributes:
        sample_rate: audio rate the codec consumes and produces (Hz).
        frame_rate: code frames per second (Hz), ``sample_rate / hop_length``.
        hop_length: audio samples per code frame.
        num_quantizers: RVQ levels produced by ``encode`` (Q).
        codebook_size: codes per level.
    """

    sample_rate: int
    frame_rate: float
    hop_length: int
    num_quantizers: int
    codebook_size: int

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, 1, T]`` float audio -> ``LongTensor[B, Q, F]`` codes, ``F = ceil(T / hop_length)``."""

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``LongTensor[B, Q', F]`` codes (any ``1 <= Q' <= Q`` leading levels) -> ``Tensor[B, 1, F * hop_length]``."""


@runtime_checkable
class SemanticTokenizerProtocol(Protocol):
    """Audio -> discrete semantic tokens (features of a self-supervised model or MFCC, then k-means).

    Attributes:
        sample_rate: audio rate the tokenizer expects (Hz).
        frame_rate: tokens per second (Hz).
        vocab_size: number of distinct tokens (k-means centroids), ids in ``[0, vocab_size)``.
    """

    sample_rate: int
    frame_rate: float
    vocab_size: int

    def tokenize(self, wave: torch.Tensor) -> torch.Tensor:
        """``Tensor[B, 1, T]`` float audio -> ``LongTensor[B, F]`` token ids."""


@runtime_checkable
class AcousticGeneratorProtocol(Protocol):
    """Semantic tokens (+ an acoustic prompt) -> the RVQ codes of every level the generator models.

    :class:`~audiolm_lib.AudioLM` holds one of these between its semantic stage and the codec: the paper's coarse
    + fine stages (:class:`~audiolm_lib.lm.hierarchical.HierarchicalAcoustic`) or a parallel masked model
    (:class:`~audiolm_lib.lm.parallel.ParallelAcousticLM`). A new generator needs no change to the pipeline.

    Attributes:
        semantic_vocab_size / semantic_rate: the semantic token space it is conditioned on.
        acoustic_rate / codebook_size / num_quantizers: the codec token space it produces (``Q`` levels).
        sampling_stages: names of the sampling settings it reads (``AudioLMConfig`` fields, e.g. ``"coarse"``).

    Optional: ``describe() -> str``, one line for ``audiolm info`` (how the levels are generated).
    """

    semantic_vocab_size: int
    semantic_rate: float
    acoustic_rate: float
    codebook_size: int
    num_quantizers: int
    sampling_stages: tuple[str, ...]

    def generate_acoustic(self, semantic: torch.Tensor, prompt: torch.Tensor | None, num_frames: int, *,
                          sampling: dict[str, dict], generator: torch.Generator | None = None,
                          progress: bool = False) -> torch.Tensor:
        """``semantic: LongTensor[B, S]`` (prompt + new span), ``prompt: LongTensor[B, Q, F0]`` or None ->
        ``LongTensor[B, Q', num_frames]`` new frames of the leading ``Q' <= Q`` levels (all, unless the generator is
        set to make fewer: the pipeline then decodes those); ``sampling[stage]``: ``temperature`` / ``top_k`` /
        ``top_p``."""

    def compatibility_problems(self) -> list[str]:
        """Mismatches between its own parts (empty when they fit together)."""

    def components(self) -> dict:
        """``{sub-folder name: module with save_pretrained}`` that together rebuild it (:meth:`from_components`)."""
