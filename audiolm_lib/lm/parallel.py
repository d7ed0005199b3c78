"""Parallel acoustic generation (SoundStorm, Borsos et al. 2023): one bidirectional Transformer fills every RVQ
level of every frame by confidence-based iterative unmasking, in a number of forward passes that does not grow
with the length of the audio.

Input per frame (the paper's conditioning): the sum of the embedding of the semantic token at that time
(semantic tokens are repeated / picked to the acoustic frame rate) and one embedding per RVQ level (the level's
code, or the level's mask token). Output: one head per level scoring that level's ``K`` codes.

Training: :func:`audiolm_lib.lm.masking.training_mask` (a level ``q``; levels below given, level ``q`` masked at a
cosine-schedule ratio, levels above masked, a random acoustic prompt never masked; the loss on the masked tokens
of level ``q`` only).

Sampling (MaskGIT, level by level): level 1 in ``steps_per_level[0]`` iterations (paper: 16), each later level in
``steps_per_level[-1]`` (paper: 1), so 12 levels take 27 forward passes for a whole window. In each iteration every
still-masked frame of the level gets a candidate token; the most confident candidates are kept, the others
re-masked, following the cosine schedule of :func:`audiolm_lib.lm.masking.remaining_masked`. Levels below
``sampled_levels`` draw their candidates at the given temperature (with Gumbel noise on the confidences, annealed
to 0, scaled by ``choice_temperature``); later levels take the argmax, as in the paper. Prompt frames are given on
every level and never change.

Classifier-free guidance on the acoustic prompt (off by default): trained with ``prompt_dropout`` (a share of
examples sees its prompt frames masked on every level), the model also scores tokens without the prompt; with
``guidance_scale`` ``s != 1`` each decoding pass runs the prompted and the unprompted window in one batch and
samples from ``uncond + s * (cond - uncond)`` (audiocraft's ``cfg_coef``; ``s = 1``: the prompted logits alone,
exactly as without guidance). Frames a window takes from earlier windows count as its prompt.

A prompt summary (off by default, ``prompt_summary``): the mean of the prompt frames' code embeddings, through a
small MLP, added to every frame (:mod:`audiolm_lib.lm.prompt_summary`); and the prompt prior in training, at a learned
strength per level (``prompt_prior_learned``).

An in-context code prior (off by default, ``prompt_prior``): each level's logits plus ``s * log`` the smoothed
frequency of each code on that level in the window's prompt (:mod:`audiolm_lib.lm.prompt_prior`).

Windows: the model sees at most ``window_seconds`` (its training crop). Longer audio is generated in windows;
each later window starts with the tail of what is already known (``window_context_fraction`` of a window) as
its acoustic prompt, and with ``window_anchor_seconds`` the given prompt's tail before it
(:mod:`audiolm_lib.lm.windows`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from audiolm_lib.lm.base import check_tokens, eval_mode
from audiolm_lib.lm.guidance import check_guidance
from audiolm_lib.lm.masking import TrainingMask, remaining_masked, training_mask
from audiolm_lib.lm.parallel_config import Decoding, ParallelAcousticLMConfig
from audiolm_lib.lm.prompt_prior import check_prompt_prior, prompt_log_prior
from audiolm_lib.lm.prompt_summary import PromptSummary, prompt_frames
from audiolm_lib.lm.sampling import sample_logits, validate_sampling
from audiolm_lib.lm.transformer import Transformer
from audiolm_lib.lm.windows import Window, plan_windows
from audiolm_lib.serialization import PretrainedMixin


class ParallelAcousticLM(nn.Module, PretrainedMixin):
    """Semantic tokens (+ an acoustic prompt) -> all ``Q`` RVQ levels, by masked parallel decoding.

    Also an acoustic generator for :class:`~audiolm_lib.AudioLM`
    (:class:`~audiolm_lib.interfaces.AcousticGeneratorProtocol`): ``AudioLM(tokenizer, codec, semantic_lm,
    acoustic=ParallelAcousticLM(...))`` uses it in place of the coarse and fine stages.
    """

    config_class = ParallelAcousticLMConfig
    sampling_stages = ("acoustic",)
    # its passes are GEMMs over whole windows: int8 Linears measured 1.5x faster on CPU (BENCHMARKS.md), so
    # ``AudioLM.quantize_int8("preferred")`` (the CLI default) quantises it
    prefers_int8 = True

    def __init__(self, config: ParallelAcousticLMConfig) -> None:
        super().__init__()
        self.config = config
        dim, levels, codes = config.transformer.dim, config.num_quantizers, config.codebook_size
        self.semantic_embedding = nn.Embedding(config.semantic_vocab_size, dim)
        # level q's code c is row q * (K + 1) + c; row q * (K + 1) + K is level q's mask token
        self.code_embedding = nn.Embedding(levels * (codes + 1), dim)
        self.transformer = Transformer(config.transformer)
        self.prompt_summary = PromptSummary(dim) if config.prompt_summary else None
        # the learned strength of the prompt's code prior, per level; 0: the model without it
        self.prompt_prior_scale = nn.Parameter(torch.zeros(levels)) if config.prompt_prior_learned else None
        self.head = nn.Parameter(torch.empty(levels, codes, dim))
        self.register_buffer("level_offsets", torch.arange(levels) * (codes + 1), persistent=False)
        self.window = max(1, round(config.window_seconds * config.acoustic_rate))
        self.context = min(self.window - 1, round(self.window * config.window_context_fraction))
        for weight in (self.semantic_embedding.weight, self.code_embedding.weight, self.head):
            nn.init.normal_(weight, std=0.02)

    # ------------------------------------------------------------------ the acoustic generator interface
    @property
    def semantic_vocab_size(self) -> int:
        return self.config.semantic_vocab_size

    @property
    def semantic_rate(self) -> float:
        return self.config.semantic_rate

    @property
    def acoustic_rate(self) -> float:
        return self.config.acoustic_rate

    @property
    def codebook_size(self) -> int:
        return self.config.codebook_size

    @property
    def num_quantizers(self) -> int:
        return self.config.num_quantizers

    def describe(self) -> str:
        """One line for ``audiolm info``: how the levels are generated."""
        cfg = self.config
        steps = [cfg.steps(q) for q in range(cfg.output_levels)]
        which = (f"all {cfg.num_quantizers} levels" if cfg.output_levels == cfg.num_quantizers
                 else f"the first {cfg.output_levels} of {cfg.num_quantizers} levels")
        return (f"parallel masked generator: {which} in {cfg.window_seconds:g} s windows, "
                f"{sum(steps)} passes per window (level 1: {steps[0]}), {cfg.sampled_levels} sampled level(s)")

    def compatibility_problems(self) -> list[str]:
        return []

    def components(self) -> dict[str, nn.Module]:
        """What :meth:`AudioLM.save_pretrained` writes, one sub-folder each."""
        return {"acoustic_lm": self}

    @classmethod
    def from_components(cls, acoustic_lm: "ParallelAcousticLM") -> "ParallelAcousticLM":
        if not isinstance(acoustic_lm, cls):
            raise TypeError(f"acoustic_lm must be a {cls.__name__}, got {type(acoustic_lm).__name__}")
        return acoustic_lm

    def generate_acoustic(self, semantic: Tensor, prompt: Tensor | None, num_frames: int, *,
                          sampling: dict[str, dict], generator: torch.Generator | None = None,
                          progress: bool = False) -> Tensor:
        """:meth:`generate` with the pipeline's per-stage sampling settings (``sampling["acoustic"]``)."""
        return self.generate(semantic, prompt, num_frames, generator=generator, progress=progress,
                             **sampling.get("acoustic", {}))

    # ------------------------------------------------------------------ inputs
    def semantic_positions(self, start: int, end: int, num_semantic: int, device=None) -> Tensor:
        """``LongTensor[end - start]``: index of the semantic token at the start of each acoustic frame."""
        return self.semantic_positions_of(torch.arange(start, end, device=device), num_semantic)

    def semantic_positions_of(self, frames: Tensor, num_semantic: int) -> Tensor:
        """``LongTensor[N]``: index of the semantic token at the start of each acoustic frame of ``frames``."""
        ratio = self.config.semantic_rate / self.config.acoustic_rate
        return torch.floor(frames.double() * ratio + 1e-6).long().clamp_(0, num_semantic - 1)

    def _check_alignment(self, semantic_tokens: int, frames: int) -> None:
        expected = frames * self.config.semantic_rate / self.config.acoustic_rate
        if abs(semantic_tokens - expected) > max(4.0, 0.1 * expected):
            raise ValueError(f"semantic has {semantic_tokens} tokens but {frames} acoustic frames span about "
                             f"{expected:.0f} semantic tokens at {self.config.semantic_rate} / "
                             f"{self.config.acoustic_rate} Hz")

    def _check_codes(self, name: str, codes: Tensor, batch: int) -> Tensor:
        codes = check_tokens(name, codes, 3, self.config.codebook_size, allow_pad=False)
        if codes.shape[1] != self.config.num_quantizers:
            raise ValueError(f"{name} must have {self.config.num_quantizers} levels (dim 1), got shape {tuple(codes.shape)}")
        if codes.shape[0] != batch:
            raise ValueError(f"batch sizes differ: semantic {batch}, {name} {codes.shape[0]}")
        return codes

    def hidden(self, semantic: Tensor, ids: Tensor) -> Tensor:
        """One bidirectional pass: ``semantic: LongTensor[B, T]`` (already aligned to frames) and
        ``ids: LongTensor[B, Q, T]`` (codes, or ``K`` for a masked token) -> ``Tensor[B, T, D]``.

        A model set to make only the leading ``generated_levels`` never sees the levels above (masked on every
        frame, prompt included): training and every window of generation see the same inputs."""
        made = self.config.output_levels
        if made < ids.shape[1]:
            ids = torch.cat([ids[:, :made], ids.new_full((ids.shape[0], ids.shape[1] - made, ids.shape[2]),
                                                         self.config.codebook_size)], dim=1)
        batch, levels, frames = ids.shape
        rows = (ids + self.level_offsets[:, None]).transpose(1, 2).reshape(batch * frames, levels)
        x = F.embedding_bag(rows, self.code_embedding.weight, mode="sum").view(batch, frames, -1)
        if self.prompt_summary is not None:
            x = x + self.prompt_summary(x, self.prompt_of(ids))
        return self.transformer(x + self.semantic_embedding(semantic), causal=False)

    def prompt_of(self, ids: Tensor) -> Tensor:
        """``BoolTensor[B, T]``: the prompt as the model sees it in ``ids: LongTensor[B, Q, T]``, the leading frames
        whose generated levels are all known (none where a prompt is dropped for guidance)."""
        return prompt_frames((ids[:, :self.config.output_levels] != self.config.codebook_size).all(dim=1))

    # ------------------------------------------------------------------ training
    def masked_logits(self, semantic: Tensor, codes: Tensor, mask: TrainingMask) -> tuple[Tensor, Tensor]:
        """Logits and targets of the scored tokens: ``(Tensor[N, K], LongTensor[N])``, ``N = mask.scored.sum()``.

        ``semantic: LongTensor[B, S]``, ``codes: LongTensor[B, Q, T]`` (checked by the caller).
        """
        batch, _, frames = codes.shape
        aligned = semantic[:, self.semantic_positions(0, frames, semantic.shape[1], semantic.device)]
        ids = codes.masked_fill(mask.masked, self.config.codebook_size)
        hidden = self.hidden(aligned, ids)  # [B, T, D]
        prompt = self.prompt_of(ids) if self.prompt_prior_scale is not None else None
        logits, targets = [], []
        for level in torch.unique(mask.level).tolist():
            rows = mask.scored & (mask.level == level)[:, None]  # [B, T]
            level_logits = F.linear(hidden[rows], self.head[level])
            if prompt is not None:
                prior = prompt_log_prior(codes[:, level].masked_fill(~prompt, self.config.codebook_size),
                                         self.config.codebook_size) * prompt.any(dim=1, keepdim=True)  # [B, K]
                level_logits = level_logits + self.prompt_prior_scale[level] * prior[rows.nonzero()[:, 0]]
            logits.append(level_logits)
            targets.append(codes[:, level][rows])
        return torch.cat(logits), torch.cat(targets)

    def forward(self, semantic: Tensor, codes: Tensor, *, mask: TrainingMask | None = None,
                generator: torch.Generator | None = None, prompt_frames: Tensor | None = None) -> Tensor:
        """The masked-token training loss: mean cross-entropy over the scored tokens (nats per token).

        Args:
            semantic: ``LongTensor[B, S]`` semantic ids of the same time span as ``codes``.
            codes: ``LongTensor[B, Q, T]`` codes of every level.
            mask: a fixed :class:`~audiolm_lib.lm.masking.TrainingMask` (default: drawn; in eval mode from a
                generator seeded with 0, so validation losses are comparable between evaluations).
            generator: draws the mask (training mode).
            prompt_frames: ``LongTensor[B]`` prompt delimiters fixed by the data (``-1``: drawn), for prompts
                taken from another segment (:mod:`audiolm_lib.training.prompt_crops`).
        """
        semantic = check_tokens("semantic", semantic, 2, self.config.semantic_vocab_size, allow_pad=False)
        codes = self._check_codes("codes", codes, semantic.shape[0])
        if codes.shape[2] == 0 or semantic.shape[1] == 0:
            raise ValueError("semantic and codes must hold at least one token per item")
        self._check_alignment(semantic.shape[1], codes.shape[2])
        if codes.shape[2] > self.transformer.config.max_seq_len:
            raise ValueError(f"{codes.shape[2]} frames exceed transformer.max_seq_len="
                             f"{self.transformer.config.max_seq_len}; use shorter crops")
        if mask is None:
            if generator is None and not self.training:
                generator = torch.Generator().manual_seed(0)
            batch, levels, frames = codes.shape
            mask = training_mask(batch, levels, frames, generator=generator, device=codes.device,
                                 prompt_dropout=self.config.prompt_dropout if self.training else 0.0,
                                 prompt_frames=prompt_frames, scored_levels=self.config.output_levels)
        logits, targets = self.masked_logits(semantic, codes, mask)
        return F.cross_entropy(logits.float(), targets)

    @torch.no_grad()
    def level_cross_entropy(self, semantic: Tensor, codes: Tensor, prompt_frames: int, *,
                            guidance_scale: float = 1.0) -> Tensor:
        """Teacher-forced cross-entropy of each level on the frames after the prompt: ``Tensor[Q]`` (nats/token).

        Level ``q`` is scored on frames ``>= prompt_frames`` with the true codes of levels ``< q`` given on every
        frame, the prompt given on every level, and levels ``>= q`` masked after it (SoundStorm's training mask
        at ratio 1): how well the model predicts a held-out continuation, level by level, given its prompt and
        its true semantic tokens. ``guidance_scale != 1`` scores the guided logits (the unprompted pass masks the
        prompt frames on every level), to choose a scale on validation data.

        ``semantic: LongTensor[B, S]``, ``codes: LongTensor[B, Q, T]`` (one window at most).
        """
        semantic = check_tokens("semantic", semantic, 2, self.config.semantic_vocab_size, allow_pad=False)
        codes = self._check_codes("codes", codes, semantic.shape[0])
        batch, levels, frames = codes.shape
        if not 0 <= prompt_frames < frames:
            raise ValueError(f"prompt_frames must be in [0, {frames}), got {prompt_frames}")
        check_guidance(guidance_scale)
        free = (torch.arange(frames, device=codes.device) >= prompt_frames).expand(batch, frames)
        losses = []
        with eval_mode(self):
            for level in range(levels):
                above = (torch.arange(levels, device=codes.device) >= level)[None, :, None] & free[:, None]
                mask = TrainingMask(above, free, torch.full((batch,), level, device=codes.device),
                                    torch.full((batch,), prompt_frames, device=codes.device),
                                    torch.ones(batch, device=codes.device))
                logits, targets = self.masked_logits(semantic, codes, mask)
                if guidance_scale != 1.0 and prompt_frames:
                    mask.masked = mask.masked | ~free[:, None]
                    uncond = self.masked_logits(semantic, codes, mask)[0]
                    logits = uncond + guidance_scale * (logits - uncond)
                losses.append(F.cross_entropy(logits.float(), targets))
        return torch.stack(losses)

    # ------------------------------------------------------------------ sampling
    def _fill_level(self, aligned: Tensor, ids: Tensor, known: int, level: int, *, temperature: float,
                    top_k: int | None, top_p: float | None, generator: torch.Generator | None, steps: int,
                    sampled: bool, choice_temperature: float, tick, guidance_scale: float = 1.0,
                    prior: Tensor | None = None) -> None:
        """Unmask level ``level`` of frames ``known..`` of ``ids: LongTensor[B, Q, T]`` in place (``prior``:
        ``Tensor[B, K]`` added to every frame's logits)."""
        batch, _, frames = ids.shape
        todo = frames - known
        if prior is not None:  # [B, K] -> the logits' rows [B * M, K]
            prior = prior[:, None].expand(batch, todo, prior.shape[-1]).flatten(0, 1)
        revealed = torch.zeros(batch, todo, dtype=torch.bool, device=ids.device)
        weight = self.head[level]
        temp = temperature if sampled else 0.0
        for step in range(steps):
            logits = self._level_logits(aligned, ids, known, weight, guidance_scale)  # [B*M, K]
            if prior is not None:
                logits = logits + prior
            tokens = sample_logits(logits, temp, top_k if temp else None, top_p if temp else None, generator)
            tick()
            target = ids[:, level, known:]
            if step == steps - 1:
                target.copy_(torch.where(revealed, target, tokens.view(batch, todo)))
                return
            confidence = logits.log_softmax(-1).gather(1, tokens[:, None]).view(batch, todo)
            noise = choice_temperature * (1.0 - (step + 1) / steps) if temp else 0.0
            if noise:
                uniform = torch.rand(confidence.shape, generator=generator, device=confidence.device)
                confidence = confidence + noise * -torch.log(-torch.log(uniform.clamp_min(1e-20)))
            confidence = confidence.masked_fill(revealed, float("inf"))
            keep_masked = remaining_masked(todo, step, steps)
            chosen = confidence.topk(todo - keep_masked, dim=1).indices  # already revealed rank first
            newly = torch.zeros_like(revealed).scatter_(1, chosen, True) & ~revealed
            target.copy_(torch.where(newly, tokens.view(batch, todo), target))
            revealed |= newly

    def _level_logits(self, aligned: Tensor, ids: Tensor, known: int, weight: Tensor, guidance_scale: float) -> Tensor:
        """``Tensor[B * M, K]`` float logits of frames ``known..`` (``M`` of them) for the head ``weight``; with
        guidance (``guidance_scale != 1`` and a prompt), the unprompted copy (frames ``< known`` masked on every
        level) runs in the same batch and the logits are ``uncond + s * (cond - uncond)``."""
        if guidance_scale == 1.0 or known == 0:
            return F.linear(self.hidden(aligned, ids)[:, known:], weight).float().flatten(0, 1)
        unprompted = ids.clone()
        unprompted[:, :, :known] = self.config.codebook_size
        hidden = self.hidden(torch.cat([aligned, aligned]), torch.cat([ids, unprompted]))[:, known:]
        cond, uncond = F.linear(hidden, weight).float().chunk(2)
        return (uncond + guidance_scale * (cond - uncond)).flatten(0, 1)

    @torch.inference_mode()
    def generate(self, semantic: Tensor, prompt: Tensor | None, num_frames: int, *, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
                 steps_per_level: tuple[int, ...] | None = None, sampled_levels: int | None = None,
                 choice_temperature: float | None = None, guidance_scale: float | None = None,
                 generated_levels: int | None = None, window_anchor_seconds: float | None = None,
                 prompt_prior: float | None = None, progress: bool = False) -> Tensor:
        """Generate ``num_frames`` frames of the leading ``L`` levels (``generated_levels``; default the config's,
        all ``Q`` unless set) after ``prompt``.

        Args:
            semantic: ``LongTensor[B, S]`` covering prompt + new frames,
                ``S ≈ (F0 + num_frames) * semantic_rate / acoustic_rate`` (within 10 % or 4 tokens).
            prompt: ``LongTensor[B, Q, F0]`` known codes of the first ``F0`` frames (never changed), or ``None``.
            num_frames: frames to generate.
            temperature / top_k / top_p: how the sampled levels draw candidates (``temperature=0``: greedy).
            generator: a seeded ``torch.Generator`` makes the result exactly reproducible.
            steps_per_level / sampled_levels / choice_temperature / guidance_scale / generated_levels /
                window_anchor_seconds / prompt_prior: override the config's decoding settings
                (``guidance_scale``: classifier-free guidance on the prompt, 1 = off).
            progress: a tqdm bar over forward passes.

        Returns:
            ``LongTensor[B, L, num_frames]`` new frames only.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        validate_sampling(temperature, top_k, top_p)
        semantic = check_tokens("semantic", semantic, 2, cfg.semantic_vocab_size, allow_pad=False)
        batch = semantic.shape[0]
        if prompt is not None:
            prompt = self._check_codes("prompt", prompt, batch)
        if num_frames < 0:
            raise ValueError(f"num_frames must be >= 0, got {num_frames}")
        known = 0 if prompt is None else prompt.shape[2]
        total = known + num_frames
        if semantic.shape[1] == 0:
            raise ValueError("semantic must hold at least one token per item")
        self._check_alignment(semantic.shape[1], total)
        decoding = self._decoding(steps_per_level, sampled_levels, choice_temperature, guidance_scale,
                                  generated_levels, prompt_prior)
        device = semantic.device
        ids = torch.full((batch, cfg.num_quantizers, total), cfg.codebook_size, dtype=torch.long, device=device)
        if prompt is not None:
            ids[:, :, :known] = prompt.to(device)
        windows = self.windows(known, total, anchor=None if window_anchor_seconds is None
                               else self.anchor_frames(window_anchor_seconds))
        passes = len(windows) * sum(decoding.steps_of(q) for q in range(decoding.levels))
        bar = tqdm(total=passes, desc="parallel acoustic", unit="pass", disable=not progress, leave=False)
        for span in windows:
            self.fill_window(semantic, ids, span, temperature=temperature, top_k=top_k, top_p=top_p,
                             generator=generator, decoding=decoding, tick=lambda: bar.update(1))
        bar.close()
        return ids[:, :decoding.levels, known:].clone()

    def _decoding(self, steps_per_level: tuple[int, ...] | None, sampled_levels: int | None,
                  choice_temperature: float | None, guidance_scale: float | None = None,
                  generated_levels: int | None = None, prompt_prior: float | None = None) -> Decoding:
        """The config's decoding settings, overridden."""
        cfg = self.config
        steps = tuple(int(s) for s in steps_per_level) if steps_per_level is not None else None
        if steps is not None and (not steps or min(steps) < 1):
            raise ValueError(f"steps_per_level must be non-empty positive integers, got {steps_per_level}")
        sampled_levels = cfg.sampled_levels if sampled_levels is None else int(sampled_levels)
        choice = cfg.choice_temperature if choice_temperature is None else float(choice_temperature)
        guidance = cfg.guidance_scale if guidance_scale is None else check_guidance(float(guidance_scale))
        levels = cfg.output_levels if generated_levels is None else int(generated_levels)
        if not 1 <= levels <= cfg.num_quantizers:
            raise ValueError(f"generated_levels must be in [1, {cfg.num_quantizers}], got {generated_levels}")
        prior = cfg.prompt_prior if prompt_prior is None else check_prompt_prior(prompt_prior)
        steps_of = (lambda q: steps[min(q, len(steps) - 1)]) if steps else cfg.steps
        return Decoding(steps_of, sampled_levels, choice, guidance, levels, prior)

    @torch.inference_mode()
    def fill_window(self, semantic: Tensor, ids: Tensor, span: tuple[int, int, int] | Window, *,
                    temperature: float = 1.0,
                    top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
                    decoding: Decoding | None = None, tick=None) -> None:
        """Generate frames ``first_new .. end`` of the generated levels of ``ids: LongTensor[B, Q, T]`` in place
        (levels above ``generated_levels`` stay masked), one window of :meth:`windows` (``span = (start, first_new,
        end)``; frames ``start .. first_new`` are its prompt, after the anchor frames of a
        :class:`~audiolm_lib.lm.windows.Window`).

        ``semantic``: ``LongTensor[B, S]`` from frame 0 on, covering at least frame ``end``. :meth:`generate` is
        this over its windows; a streaming caller (:mod:`audiolm_lib.streaming`) calls it window by window.
        ``decoding``: :meth:`_decoding`'s settings (default: the config's).
        """
        span = Window(*span)
        start, cursor, end = span[:3]
        if (not 0 <= start <= cursor <= end <= ids.shape[2] or span.length > self.window
                or not 0 <= span.anchor_start <= span.anchor_end <= start):
            raise ValueError(f"window {tuple(span)} does not fit {ids.shape[2]} frames with windows of {self.window}")
        decoding = decoding or self._decoding(None, None, None)
        frames = span.frames(ids.device)
        window_ids = ids[:, :, start:end] if not span.anchor else ids[:, :, frames]  # a view, or a copy
        aligned = semantic[:, self.semantic_positions_of(frames, semantic.shape[1])]
        with eval_mode(self):
            for level in range(decoding.levels):  # levels above stay masked, as in training
                strength = decoding.prompt_prior
                if self.prompt_prior_scale is not None:
                    strength = strength + float(self.prompt_prior_scale[level])
                prior = (strength * prompt_log_prior(window_ids[:, level, :span.known], self.config.codebook_size)
                         if strength and span.known else None)
                self._fill_level(aligned, window_ids, span.known, level, temperature=temperature, top_k=top_k,
                                 top_p=top_p, generator=generator, steps=decoding.steps_of(level),
                                 sampled=level < decoding.sampled_levels,
                                 choice_temperature=decoding.choice_temperature, tick=tick or (lambda: None),
                                 guidance_scale=decoding.guidance_scale, prior=prior)
        if span.anchor:
            ids[:, :, cursor:end] = window_ids[:, :, span.known:]

    def windows(self, known: int, total: int, *, anchor: int | None = None) -> list[Window]:
        """The :class:`~audiolm_lib.lm.windows.Window` s (``(start, first_new, end, anchor_start, anchor_end)``)
        that generate frames ``known .. total``.

        A window sees at most :attr:`window` frames; frames ``start .. first_new`` are its acoustic prompt (the
        given prompt, or the previous windows' output: at most :attr:`context` frames, more for the last window),
        after the given prompt's last ``anchor`` frames (default :attr:`anchor`) where they are not in it.
        """
        return plan_windows(known, total, window=self.window, context=self.context,
                            anchor=self.anchor if anchor is None else anchor)

    @property
    def anchor(self) -> int:
        """Frames of the given prompt's tail every later window sees (``config.window_anchor_seconds``)."""
        return self.anchor_frames(self.config.window_anchor_seconds)

    def anchor_frames(self, seconds: float) -> int:
        """Frames of a ``seconds`` anchor (:attr:`context` at most)."""
        if seconds < 0:
            raise ValueError(f"window_anchor_seconds must be >= 0, got {seconds}")
        return min(self.context, round(seconds * self.config.acoustic_rate))

    def forward_passes(self, known: int, total: int) -> int:
        """Transformer passes :meth:`generate` spends on frames ``known .. total`` (with the config's steps)."""
        per_window = sum(self.config.steps(q) for q in range(self.config.output_levels))  # anchors cost none
        return per_window * len(self.windows(known, total))
