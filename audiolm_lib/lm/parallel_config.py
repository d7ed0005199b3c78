"""The parallel acoustic generator's settings: its shape, its training options and its decoding
(:class:`ParallelAcousticLMConfig`), and the decoding of one call with its overrides applied (:class:`Decoding`).
The model is :class:`audiolm_lib.lm.parallel.ParallelAcousticLM`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from audiolm_lib.lm.guidance import check_guidance
from audiolm_lib.lm.prompt_prior import check_prompt_prior
from audiolm_lib.lm.transformer import TransformerConfig


@dataclass
class ParallelAcousticLMConfig:
    """A SoundStorm-style acoustic generator.

    Attributes:
        semantic_vocab_size: semantic ids ``V``.
        codebook_size: codes per RVQ level ``K``.
        num_quantizers: RVQ levels generated ``Q`` (paper: 12).
        semantic_rate / acoustic_rate: tokens / frames per second (semantic tokens are aligned to frames).
        window_seconds: the longest stretch the model sees at once (its training crop; paper: 30 s).
        window_context_fraction: share of a later window given as prompt (the previous window's tail), in [0, 1).
        window_anchor_seconds: seconds of the given prompt's end that every later window also sees, in place of as
            much of its generated context (0: none; at most the context, ``window_seconds *
            window_context_fraction``), so later windows keep the prompt's voice or key in view.
        steps_per_level: decoding iterations per level; the last entry repeats for the remaining levels
            (paper: 16 for level 1, 1 for the others).
        sampled_levels: levels (from the first) whose candidates are sampled at the temperature; the others take
            the most likely code (paper: greedy after level 1).
        choice_temperature: Gumbel noise on the confidence ranking, linearly annealed to 0 over a level's
            iterations (0: rank by confidence alone).
        prompt_dropout: training: share of examples whose acoustic prompt is masked on every level, for
            classifier-free guidance (0: none, today's training).
        guidance_scale: sampling: ``uncond + s * (cond - uncond)`` on the logits (1: no guidance, one batch).
        prompt_prior: sampling: each level's logits plus this times the log frequency of each code on the level in
            the window's prompt (0: none; :mod:`audiolm_lib.lm.prompt_prior`).
        generated_levels: the leading RVQ levels the model makes (None: all ``Q``): training draws its level among
            them (so their heads get all the updates), :meth:`generate` fills only them and returns
            ``[B, generated_levels, F]`` for the codec to decode (an RVQ trained with quantizer dropout decodes any
            leading levels), and the levels above are masked in every input, the prompt's too (so a later window,
            whose prompt is generated frames, sees what training showed). ``generate(generated_levels=n)`` stops
            a model after its first ``n`` levels without changing its inputs.
        prompt_summary: a learned summary of the acoustic prompt (the mean of its frames' code embeddings through a
            small MLP) added to every frame's input, a global handle on the prompt's voice or timbre
            (:mod:`audiolm_lib.lm.prompt_summary`; False: none, the models shipped before issue 20's tenth pass).
        prompt_prior_learned: the in-context code prior of ``prompt_prior`` in training too, at a learned strength per
            level (starting at 0) added to ``prompt_prior``'s: the model learns how far to lean on the prompt's codes.
        transformer: the bidirectional Transformer's shape.
    """

    semantic_vocab_size: int = 500
    codebook_size: int = 1024
    num_quantizers: int = 12
    semantic_rate: float = 50.0
    acoustic_rate: float = 50.0
    window_seconds: float = 30.0
    window_context_fraction: float = 0.5
    window_anchor_seconds: float = 0.0
    steps_per_level: tuple[int, ...] = (16, 1)
    sampled_levels: int = 1
    choice_temperature: float = 1.0
    prompt_dropout: float = 0.0
    guidance_scale: float = 1.0
    prompt_prior: float = 0.0
    generated_levels: int | None = None
    prompt_summary: bool = False
    prompt_prior_learned: bool = False
    transformer: TransformerConfig = field(default_factory=TransformerConfig)

    def __post_init__(self) -> None:
        if min(self.semantic_vocab_size, self.codebook_size, self.num_quantizers) < 1:
            raise ValueError("semantic_vocab_size, codebook_size and num_quantizers must be positive")
        if self.semantic_rate <= 0 or self.acoustic_rate <= 0 or self.window_seconds <= 0:
            raise ValueError("semantic_rate, acoustic_rate and window_seconds must be positive")
        if not 0.0 <= self.window_context_fraction < 1.0:
            raise ValueError(f"window_context_fraction must be in [0, 1), got {self.window_context_fraction}")
        self.steps_per_level = tuple(int(s) for s in self.steps_per_level)
        if not self.steps_per_level or min(self.steps_per_level) < 1:
            raise ValueError(f"steps_per_level must be non-empty positive integers, got {self.steps_per_level}")
        if self.sampled_levels < 0 or self.choice_temperature < 0:
            raise ValueError("sampled_levels and choice_temperature must be >= 0")
        if not 0.0 <= self.prompt_dropout <= 1.0:
            raise ValueError(f"prompt_dropout must be in [0, 1], got {self.prompt_dropout}")
        check_guidance(self.guidance_scale)
        for name in ("prompt_summary", "prompt_prior_learned"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        self.prompt_prior = check_prompt_prior(self.prompt_prior)
        if self.generated_levels is not None:
            self.generated_levels = int(self.generated_levels)
            if not 1 <= self.generated_levels <= self.num_quantizers:
                raise ValueError(f"generated_levels must be in [1, {self.num_quantizers}] (or None: all), got "
                                 f"{self.generated_levels}")
        window = round(self.window_seconds * self.acoustic_rate)
        context_seconds = self.window_seconds * self.window_context_fraction
        if not 0.0 <= self.window_anchor_seconds <= context_seconds + 1e-9:
            raise ValueError(f"window_anchor_seconds must be in [0, {context_seconds:g}] (a later window's context),"
                             f" got {self.window_anchor_seconds}")
        if window > self.transformer.max_seq_len:
            raise ValueError(f"a {self.window_seconds} s window is {window} frames but transformer.max_seq_len="
                             f"{self.transformer.max_seq_len}")

    def steps(self, level: int) -> int:
        """Decoding iterations of ``level`` (0-based)."""
        return self.steps_per_level[min(level, len(self.steps_per_level) - 1)]

    @property
    def output_levels(self) -> int:
        """The leading levels the model makes (``generated_levels``, else all ``num_quantizers``)."""
        return self.num_quantizers if self.generated_levels is None else self.generated_levels


class Decoding(NamedTuple):
    """The decoding settings of one :meth:`ParallelAcousticLM.generate` call (the config's, overridden)."""

    steps_of: Callable[[int], int]
    sampled_levels: int
    choice_temperature: float
    guidance_scale: float
    levels: int
    prompt_prior: float
