"""The three AudioLM stages: semantic, coarse acoustic and fine acoustic language models.

Each is an ``nn.Module`` + :class:`~audiolm_lib.serialization.PretrainedMixin`, built as ``Stage(config)``;
``forward`` returns the training loss on target tokens only, ``generate`` returns new tokens only.

Windows (paper: 30 s semantic, 10 s coarse, 3 s fine): a stage sees at most ``window_seconds`` of context.
Generation longer than that slides the window: once the next token falls outside, the window jumps
forward by ``window_hop_fraction`` of its length, keeping the most recent context, and is re-encoded.
The fine stage defaults to a hop of the whole window, i.e. consecutive non-overlapping windows as in
the paper. A prompt longer than the window is cut to its most recent part the same way.

Batches: every item of a batch shares the prompt length (prompts are not padded).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from audiolm_lib.lm.base import check_tokens
from audiolm_lib.lm.guidance import check_guidance, sample_guided
from audiolm_lib.lm.layout_lm import LayoutLM
from audiolm_lib.lm.layouts import build_layout
from audiolm_lib.lm.prompt_prior import check_prompt_prior, prompt_log_prior
from audiolm_lib.lm.transformer import TransformerConfig
from audiolm_lib.serialization import PretrainedMixin


def _check_common(window_seconds: float, hop: float, layout: str) -> None:
    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    if not 0 < hop <= 1:
        raise ValueError(f"window_hop_fraction must be in (0, 1], got {hop}")
    if not isinstance(layout, str):
        raise ValueError(f"layout must be a layout name, got {layout!r}")


@dataclass
class SemanticLMConfig:
    """Semantic stage: semantic history -> semantic tokens.

    Attributes:
        vocab_size: semantic ids (k-means clusters), ``[0, vocab_size)``.
        semantic_rate: semantic tokens per second.
        window_seconds: longest context (training crop), paper: 30 s.
        window_hop_fraction: how far the context window jumps when it slides.
        layout: token layout name: ``"flat"`` (one position per token), ``"multiscale"`` (global model
            per frame + local model per level) or ``"delay"`` (one step per frame, level k delayed by k).
        tie_embeddings: output heads share the input embedding rows.
        transformer: decoder shape (the global model of the multiscale layout).
        local_transformer: the multiscale layout's local model (``None``: one block of half the global width).
        guidance_scale: sampling: classifier-free guidance on the prompt (:mod:`audiolm_lib.lm.guidance`;
            1: none, flat layout only).
        prompt_prior: sampling: the logits plus this times the log frequency of each id in the prompt
            (:mod:`audiolm_lib.lm.prompt_prior`; 0: none).
    """

    vocab_size: int = 500
    semantic_rate: float = 50.0
    window_seconds: float = 30.0
    window_hop_fraction: float = 0.5
    layout: str = "flat"
    tie_embeddings: bool = False
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    local_transformer: TransformerConfig | None = None
    guidance_scale: float = 1.0
    prompt_prior: float = 0.0

    def __post_init__(self) -> None:
        if self.vocab_size < 1 or self.semantic_rate <= 0:
            raise ValueError("vocab_size and semantic_rate must be positive")
        _check_common(self.window_seconds, self.window_hop_fraction, self.layout)
        check_guidance(self.guidance_scale)
        self.prompt_prior = check_prompt_prior(self.prompt_prior)


@dataclass
class CoarseLMConfig:
    """Coarse stage: semantic tokens -> RVQ levels ``1..Qc``.

    Attributes:
        semantic_vocab_size: semantic ids.
        codebook_size: codes per RVQ level ``K``.
        num_coarse_quantizers: ``Qc`` (paper: 4 of 12).
        semantic_rate / acoustic_rate: tokens / frames per second, to align semantic tokens with frames.
        window_seconds: context (training crop), paper: 10 s.
    """

    semantic_vocab_size: int = 500
    codebook_size: int = 1024
    num_coarse_quantizers: int = 4
    semantic_rate: float = 50.0
    acoustic_rate: float = 50.0
    window_seconds: float = 10.0
    window_hop_fraction: float = 0.5
    layout: str = "flat"
    tie_embeddings: bool = False
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    local_transformer: TransformerConfig | None = None

    def __post_init__(self) -> None:
        if min(self.semantic_vocab_size, self.codebook_size, self.num_coarse_quantizers) < 1:
            raise ValueError("semantic_vocab_size, codebook_size and num_coarse_quantizers must be positive")
        if self.semantic_rate <= 0 or self.acoustic_rate <= 0:
            raise ValueError("semantic_rate and acoustic_rate must be positive")
        _check_common(self.window_seconds, self.window_hop_fraction, self.layout)


@dataclass
class FineLMConfig:
    """Fine stage: RVQ levels ``1..Qc`` -> levels ``Qc+1..Qc+Qf``.

    Attributes:
        window_seconds: context (training crop), paper: 3 s; generation runs on consecutive windows.
    """

    codebook_size: int = 1024
    num_coarse_quantizers: int = 4
    num_fine_quantizers: int = 8
    acoustic_rate: float = 50.0
    window_seconds: float = 3.0
    window_hop_fraction: float = 1.0
    layout: str = "flat"
    tie_embeddings: bool = False
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    local_transformer: TransformerConfig | None = None

    def __post_init__(self) -> None:
        if min(self.codebook_size, self.num_coarse_quantizers, self.num_fine_quantizers) < 1:
            raise ValueError("codebook_size, num_coarse_quantizers and num_fine_quantizers must be positive")
        if self.acoustic_rate <= 0:
            raise ValueError("acoustic_rate must be positive")
        _check_common(self.window_seconds, self.window_hop_fraction, self.layout)


def _window(seconds: float, rate: float, hop_fraction: float) -> tuple[int, int]:
    window = max(1, round(seconds * rate))
    return window, max(1, min(window, round(window * hop_fraction)))


def _check_fits(stage: str, needed: int, config: TransformerConfig, window_seconds: float) -> None:
    if needed > config.max_seq_len:
        raise ValueError(f"{stage}: a {window_seconds} s window needs {needed} positions but "
                         f"transformer.max_seq_len={config.max_seq_len}; raise max_seq_len or shorten the window")


class SemanticLM(LayoutLM, PretrainedMixin):
    """``[BOS] s_1 s_2 ...``: predicts each semantic token from the ones before it."""

    config_class = SemanticLMConfig

    def __init__(self, config: SemanticLMConfig) -> None:
        layout = build_layout(config.layout, condition_levels=0, condition_vocab=0, target_levels=1,
                              target_vocab=config.vocab_size, with_eos=True)
        super().__init__(layout, config.transformer, config.tie_embeddings, config.local_transformer)
        self.config = config
        _check_fits("SemanticLM", self.capacity, config.transformer, config.window_seconds)

    # Read from the config on use, so a decoding override of ``window_seconds`` / ``window_hop_fraction`` (e.g. a
    # window longer than the training crops, or a smaller hop that keeps more of the prompt) takes effect.
    @property
    def window(self) -> int:
        """Tokens the model sees at once."""
        return _window(self.config.window_seconds, self.config.semantic_rate, self.config.window_hop_fraction)[0]

    @property
    def hop(self) -> int:
        """Tokens the window jumps by when it slides."""
        return _window(self.config.window_seconds, self.config.semantic_rate, self.config.window_hop_fraction)[1]

    @property
    def capacity(self) -> int:
        """KV-cache positions one full window needs (checked against ``transformer.max_seq_len``)."""
        needed = self.layout.sequence_length(0, self.window)
        _check_fits("SemanticLM", needed, self.config.transformer, self.config.window_seconds)
        return needed

    @property
    def eos_id(self) -> int:
        """The EOS code as the semantic head sees it: ``vocab_size`` (never a semantic id)."""
        return self.config.vocab_size

    def forward(self, semantic: Tensor, *, eos: bool = False, reduction: str = "mean") -> Tensor:
        """Next-token cross-entropy.

        Args:
            semantic: ``LongTensor[B, S]`` ids in ``[0, vocab_size)``; ``-1`` = right padding (ignored).
            eos: the crops end where their utterances end: EOS is one more target after the last token
                (the first padding position, if any).
            reduction: ``"mean"`` (scalar), ``"level"`` (``Tensor[1]``) or ``"none"`` (``Tensor[B, 1, S]``).
        """
        semantic = check_tokens("semantic", semantic, 2, self.config.vocab_size)
        if semantic.shape[1] == 0:
            raise ValueError("semantic must hold at least one token per item")
        targets = semantic
        if eos:
            targets = torch.cat([semantic, torch.full_like(semantic[:, :1], -1)], dim=1)
            ends = (semantic != -1).sum(dim=1)
            targets[torch.arange(len(ends)), ends] = self.eos_id
        return self.target_loss(None, targets[:, None], reduction=reduction)

    def generate(self, prompt: Tensor, num_tokens: int, *, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator: torch.Generator | None = None,
                 stop_at_eos: bool = False, guidance_scale: float | None = None,
                 prompt_prior: float | None = None, prior_tokens: Tensor | None = None) -> Tensor:
        """Continue ``prompt`` by ``num_tokens`` semantic tokens.

        Args:
            prompt: ``LongTensor[B, S0]``; ``S0`` may be 0 (unconditional: start from BOS).
            num_tokens: tokens to generate.
            stop_at_eos: let the model emit EOS; an item that does is finished, and that position and
                all later ones are ``-1``. Without it EOS is never sampled.
            guidance_scale: classifier-free guidance on the prompt (default: the config's; 1: none).
            prompt_prior: lean toward the prompt's ids (default: the config's; 0: none).
            prior_tokens: ``LongTensor[B, P]`` whose ids the prior counts (default: ``prompt``; a stream that
                continues its own output passes the given prompt's).

        Returns:
            ``LongTensor[B, num_tokens]`` new tokens only.
        """
        prompt = check_tokens("prompt", prompt, 2, self.config.vocab_size, allow_pad=False)
        if num_tokens < 0:
            raise ValueError(f"num_tokens must be >= 0, got {num_tokens}")
        batch, known = prompt.shape
        buffer = torch.full((batch, 1, known + num_tokens), -1, dtype=torch.long, device=prompt.device)
        buffer[:, 0, :known] = prompt
        scale = self.config.guidance_scale if guidance_scale is None else check_guidance(float(guidance_scale))
        settings = dict(temperature=temperature, top_k=top_k, top_p=top_p, generator=generator, stop_at_eos=stop_at_eos)
        strength = self.config.prompt_prior if prompt_prior is None else check_prompt_prior(prompt_prior)
        counted = prompt if prior_tokens is None else check_tokens("prior_tokens", prior_tokens, 2,
                                                                   self.config.vocab_size, allow_pad=False)
        if strength and counted.shape[1]:
            settings["logit_bias"] = strength * prompt_log_prior(counted, self.config.vocab_size)[:, None]
        if num_tokens and scale != 1.0 and known:
            sample_guided(self, buffer, known, self.window, self.hop, self.capacity, scale, **settings)
        elif num_tokens:
            self.sample_frames(buffer, known, lambda a, b: None, self.window, self.hop, self.capacity, **settings)
        return buffer[:, 0, known:].clone()


class CoarseLM(LayoutLM, PretrainedMixin):
    """``[semantic window] [SEP] [frames x q1..qQc]``: coarse codes given semantic tokens."""

    config_class = CoarseLMConfig

    def __init__(self, config: CoarseLMConfig) -> None:
        layout = build_layout(config.layout, condition_levels=1, condition_vocab=config.semantic_vocab_size,
                              target_levels=config.num_coarse_quantizers, target_vocab=config.codebook_size)
        super().__init__(layout, config.transformer, config.tie_embeddings, config.local_transformer)
        self.config = config
        self.ratio = config.semantic_rate / config.acoustic_rate
        self.window, self.hop = _window(config.window_seconds, config.acoustic_rate, config.window_hop_fraction)
        self.capacity = layout.sequence_length(math.ceil(self.window * self.ratio) + 1, self.window)
        _check_fits("CoarseLM", self.capacity, config.transformer, config.window_seconds)

    def semantic_index(self, frame: int) -> int:
        """First semantic token at or after the start of acoustic ``frame``."""
        return math.ceil(frame * self.ratio - 1e-6)

    def forward(self, semantic: Tensor, coarse: Tensor, *, reduction: str = "mean") -> Tensor:
        """Cross-entropy on the coarse tokens only.

        Args:
            semantic: ``LongTensor[B, S]`` ids of the same time span as ``coarse`` (``-1`` = padding).
            coarse: ``LongTensor[B, Qc, F]`` codes in ``[0, codebook_size)`` (``-1`` = padding, ignored).
            reduction: ``"mean"`` (scalar), ``"level"`` (``Tensor[Qc]``) or ``"none"`` (``Tensor[B, Qc, F]``).
        """
        semantic, coarse = self._check(semantic, coarse)
        self._check_alignment(semantic.shape[1], coarse.shape[2])
        return self.target_loss(semantic, coarse, reduction=reduction)

    def _check_alignment(self, semantic_tokens: int, frames: int) -> None:
        """Semantic tokens and acoustic frames must span about the same time (10 % or 4 tokens slack)."""
        expected = frames * self.ratio
        if abs(semantic_tokens - expected) > max(4.0, 0.1 * expected):
            raise ValueError(f"semantic has {semantic_tokens} tokens but {frames} acoustic frames span about "
                             f"{expected:.0f} semantic tokens at {self.config.semantic_rate} / "
                             f"{self.config.acoustic_rate} Hz")

    def _check(self, semantic: Tensor, coarse: Tensor | None) -> tuple[Tensor, Tensor | None]:
        semantic = check_tokens("semantic", semantic, 2, self.config.semantic_vocab_size)
        if coarse is not None:
            coarse = check_tokens("coarse", coarse, 3, self.config.codebook_size)
            if coarse.shape[1] != self.config.num_coarse_quantizers:
                raise ValueError(f"coarse must have {self.config.num_coarse_quantizers} levels (dim 1), "
                                 f"got shape {tuple(coarse.shape)}")
            if coarse.shape[0] != semantic.shape[0]:
                raise ValueError(f"batch sizes differ: semantic {semantic.shape[0]}, coarse {coarse.shape[0]}")
        return semantic, coarse

    def generate(self, semantic: Tensor, prompt: Tensor | None, num_frames: int, *, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        """Generate ``num_frames`` coarse frames after ``prompt``.

        Args:
            semantic: ``LongTensor[B, S]`` covering prompt + new frames,
                ``S ≈ (F0 + num_frames) * semantic_rate / acoustic_rate`` (within 10 % or 4 tokens).
            prompt: ``LongTensor[B, Qc, F0]`` known coarse frames, or ``None``.
            num_frames: frames to generate.

        Returns:
            ``LongTensor[B, Qc, num_frames]`` new frames only.
        """
        semantic, prompt = self._check(semantic, prompt)
        if prompt is not None and bool((prompt < 0).any()):
            raise ValueError("prompt must not contain padding (-1)")
        if num_frames < 0:
            raise ValueError(f"num_frames must be >= 0, got {num_frames}")
        known = 0 if prompt is None else prompt.shape[2]
        total = known + num_frames
        self._check_alignment(semantic.shape[1], total)  # prompt + new frames
        batch, levels = semantic.shape[0], self.config.num_coarse_quantizers
        buffer = torch.full((batch, levels, total), -1, dtype=torch.long, device=semantic.device)
        if prompt is not None:
            buffer[:, :, :known] = prompt

        def condition_for(begin: int, end: int) -> Tensor:
            return semantic[:, self.semantic_index(begin) : self.semantic_index(end)]

        if num_frames:
            self.sample_frames(buffer, known, condition_for, self.window, self.hop, self.capacity,
                               temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
        return buffer[:, :, known:].clone()


class FineLM(LayoutLM, PretrainedMixin):
    """``[frames x q1..qQc] [SEP] [frames x qQc+1..qQ]``: fine codes given coarse codes of the same window."""

    config_class = FineLMConfig

    def __init__(self, config: FineLMConfig) -> None:
        layout = build_layout(config.layout, condition_levels=config.num_coarse_quantizers,
                              condition_vocab=config.codebook_size, target_levels=config.num_fine_quantizers,
                              target_vocab=config.codebook_size, aligned_condition=True)
        super().__init__(layout, config.transformer, config.tie_embeddings, config.local_transformer)
        self.config = config
        self.window, self.hop = _window(config.window_seconds, config.acoustic_rate, config.window_hop_fraction)
        self.capacity = layout.sequence_length(self.window, self.window)
        _check_fits("FineLM", self.capacity, config.transformer, config.window_seconds)

    def _check(self, coarse: Tensor, fine: Tensor | None, fine_name: str = "fine") -> tuple[Tensor, Tensor | None]:
        cfg = self.config
        coarse = check_tokens("coarse", coarse, 3, cfg.codebook_size)
        if coarse.shape[1] != cfg.num_coarse_quantizers:
            raise ValueError(f"coarse must have {cfg.num_coarse_quantizers} levels (dim 1), got shape {tuple(coarse.shape)}")
        if fine is not None:
            fine = check_tokens(fine_name, fine, 3, cfg.codebook_size)
            if fine.shape[1] != cfg.num_fine_quantizers:
                raise ValueError(f"{fine_name} must have {cfg.num_fine_quantizers} levels (dim 1), got shape {tuple(fine.shape)}")
            if fine.shape[0] != coarse.shape[0]:
                raise ValueError(f"batch sizes differ: coarse {coarse.shape[0]}, {fine_name} {fine.shape[0]}")
        return coarse, fine

    def forward(self, coarse: Tensor, fine: Tensor, *, reduction: str = "mean") -> Tensor:
        """Cross-entropy on the fine tokens only.

        Args:
            coarse: ``LongTensor[B, Qc, F]``; fine: ``LongTensor[B, Qf, F]`` of the same frames
                (``-1`` = padding, ignored).
            reduction: ``"mean"`` (scalar), ``"level"`` (``Tensor[Qf]``) or ``"none"`` (``Tensor[B, Qf, F]``).
        """
        coarse, fine = self._check(coarse, fine)
        if coarse.shape[2] != fine.shape[2]:
            raise ValueError(f"coarse has {coarse.shape[2]} frames but fine has {fine.shape[2]}: they must match")
        return self.target_loss(coarse, fine, reduction=reduction)

    def generate(self, coarse: Tensor, prompt: Tensor | None, *, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Fine codes for every frame of ``coarse`` after the ``prompt`` frames, window by window.

        Args:
            coarse: ``LongTensor[B, Qc, F]`` all frames (prompt + new).
            prompt: ``LongTensor[B, Qf, F0]`` known fine codes of the first ``F0`` frames, or ``None``.

        Returns:
            ``LongTensor[B, Qf, F - F0]``.
        """
        coarse, prompt = self._check(coarse, prompt, "prompt")
        if bool((coarse < 0).any()) or (prompt is not None and bool((prompt < 0).any())):
            raise ValueError("coarse and prompt must not contain padding (-1) when generating")
        batch, _, total = coarse.shape
        known = 0 if prompt is None else prompt.shape[2]
        if known > total:
            raise ValueError(f"prompt has {known} frames but coarse only {total}")
        buffer = torch.full((batch, self.config.num_fine_quantizers, total), -1, dtype=torch.long, device=coarse.device)
        if prompt is not None:
            buffer[:, :, :known] = prompt
        if known < total:
            self.sample_frames(buffer, known, lambda a, b: coarse[:, :, a:b], self.window, self.hop, self.capacity,
                               temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
        return buffer[:, :, known:].clone()
