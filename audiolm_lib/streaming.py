"""Streaming continuation: audio comes out chunk by chunk while the rest is still being generated.

:meth:`AudioLM.stream <audiolm_lib.pipeline.AudioLM.stream>` returns an :class:`AudioStream`, an iterator of
``Tensor[B, 1, t]`` waveform chunks. The stream, not the model, holds the generation state (the tokens so far,
the window plan, the random generator, the decoder's overlap), as Moshi's ``LMGen`` keeps it apart from its
``LMModel``: two streams on one loaded model are independent, and each gives the audio it gives alone (the
model's own scratch space, the semantic stage's KV cache, is reset at every call, so steps of two streams may
interleave; from two threads, take a lock around each ``next``, as ``audiolm serve`` does).

Per chunk::

    semantic stage: the semantic tokens up to the chunk's end (generated ahead of the acoustic tokens)
    acoustic:       one window of the generator: the chunk's frames, with the frames before it as context
                    (ParallelAcousticLM.fill_window; another generator: generate_acoustic with the codes so far)
    codec:          ChunkedDecoder: the chunk with the decoder's left context, a short hold-back for its right
                    context, cross-fade and (spectral codec) phase continuity at the seam

Chunk plan (:class:`StreamConfig`): a short first chunk (``first_chunk_seconds``, with ``first_context_seconds``
of the prompt as context) so the first audio comes quickly, then chunks doubling up to ``chunk_seconds`` (default:
the parallel generator's own windows, 3 s new per 6 s window for the shipped models). With
``first_chunk_seconds=None`` and ``chunk_seconds=None`` the stream runs exactly the one-shot computation (all
semantic tokens first, then the generator's own windows): the codes equal :meth:`AudioLM.continue_audio`'s for
the same seed, and only the chunked decoding differs (by the cross-faded seams).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from audiolm_lib.codecs.chunked_decode import ChunkedDecoder
from audiolm_lib.lm.prompt_adaptation import acoustic_for_prompt
from audiolm_lib.lm.windows import Window, anchored_window

# chunk length of a generator without windows of its own (the sequential coarse + fine stages)
DEFAULT_SEQUENTIAL_CHUNK_SECONDS = 1.0


@dataclass
class StreamConfig:
    """How a stream cuts its work into chunks.

    Attributes:
        first_chunk_seconds: new audio of the first chunk (small: the time to first audio); None: no special
            first chunk.
        chunk_seconds: new audio per later chunk, reached by doubling from the first; None: the parallel
            generator's own window minus its context (or 1 s for a sequential generator).
        first_context_seconds: acoustic context of the first chunk (the prompt's tail; later chunks get the
            generator's full context).
        lookahead_frames / crossfade_frames: the decoder's hold-back (None: its receptive field, 29 frames for
            the shipped codec: less leaves the end of each chunk decoded against missing frames, a visible
            seam) and cross-fade (:class:`~audiolm_lib.codecs.chunked_decode.ChunkedDecoder`).
    """

    first_chunk_seconds: float | None = 1.0
    chunk_seconds: float | None = None
    first_context_seconds: float = 0.5
    lookahead_frames: int | None = None
    crossfade_frames: int = 4

    def __post_init__(self) -> None:
        for name in ("first_chunk_seconds", "chunk_seconds"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds or None, got {value}")
        if not (math.isfinite(self.first_context_seconds) and self.first_context_seconds >= 0):
            raise ValueError(f"first_context_seconds must be >= 0, got {self.first_context_seconds}")
        if (self.lookahead_frames or 0) < 0 or self.crossfade_frames < 0:
            raise ValueError("lookahead_frames and crossfade_frames must be >= 0")

    @property
    def exact(self) -> bool:
        """The one-shot computation, chunk by chunk (codes equal ``continue_audio``'s for the same seed)."""
        return self.first_chunk_seconds is None and self.chunk_seconds is None


def plan_chunks(known: int, total: int, *, window: int, context: int, first_new: int, chunk_new: int,
                first_context: int, anchor: int = 0) -> list[Window]:
    """The :class:`~audiolm_lib.lm.windows.Window` (``(start, first_new_frame, end, anchor_start, anchor_end)``)
    of each chunk generating frames ``known .. total``.

    The first chunk makes ``first_new`` frames with at most ``first_context`` frames before it; each later one
    twice the previous, up to ``chunk_new``, with at most ``context`` frames before it; no chunk spans more than
    ``window`` frames. A later chunk whose context does not reach back to the prompt's last ``anchor`` frames
    (``<= context``) sees them before its context, as the generator's own windows do, in place of as much of it.
    """
    if min(window, first_new, chunk_new) < 1:
        raise ValueError("window, first_new and chunk_new must be positive")
    if not 0 <= anchor <= context or (anchor and anchor >= window):
        raise ValueError(f"need 0 <= anchor ({anchor}) <= context ({context}) and anchor < window ({window})")
    anchor = min(anchor, known)
    spans, cursor, new = [], known, min(first_new, chunk_new)
    while cursor < total:
        count = min(new, total - cursor, window)
        before = min(context if spans else first_context, window - count)
        if anchor and spans and cursor - before > known - anchor:
            count = min(count, window - anchor)
            spans.append(anchored_window(known, anchor, cursor, cursor + count,
                                         min(context - anchor, window - count - anchor)))
        else:
            spans.append(Window(max(0, cursor - before), cursor, cursor + count))
        cursor += count
        new = min(chunk_new, 2 * new)
    return spans


class AudioStream:
    """One streamed continuation: iterate for ``Tensor[B, 1, t]`` chunks at ``model.sample_rate``.

    Built by :meth:`AudioLM.stream <audiolm_lib.pipeline.AudioLM.stream>` from the prompt's tokens
    (``semantic_prompt: LongTensor[B, S0]``, ``codes: LongTensor[B, Q, F0]``) and the per-stage sampling
    settings (``{"semantic": {...}, "acoustic": {...}}``); ``prompt_audio`` ``Tensor[B, 1, P]`` the prompt's audio at
    ``model.sample_rate``, for the pipeline's envelope matching; ``envelope_match`` / ``postfilter`` this stream's
    strengths of the steps after the decoder (``AudioLM.output_steps``; None: the model's); ``adaptation_steps``
    adapts the acoustic generator to the prompt (:mod:`audiolm_lib.lm.prompt_adaptation`). After the stream is
    exhausted, :attr:`stats` holds the time to first audio and the real-time factor; :attr:`semantic` /
    :attr:`codes` the tokens (prompt included).
    """

    def __init__(self, model, semantic_prompt: Tensor, codes: Tensor, seconds: float, *,
                 sampling: dict[str, dict], generator: torch.Generator | None = None,
                 config: StreamConfig | None = None, started: float | None = None, voice_match: bool | None = None,
                 prompt_audio: Tensor | None = None, envelope_match: float | None = None,
                 postfilter: float | None = None, adaptation_steps: int | None = None):
        if seconds is None or not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(f"seconds must be a positive, finite number, got {seconds}")
        self.model = model
        self.config = config = config or StreamConfig()
        self.sampling = sampling
        self.generator = generator
        self.started = time.perf_counter() if started is None else started
        semantic_rate, acoustic_rate = model.semantic_rate, model.acoustic_rate
        self._ratio = semantic_rate / acoustic_rate
        # the lengths continue_audio produces (AudioLM.generate_tokens)
        self.total_semantic = semantic_prompt.shape[1] + max(1, int(round(seconds * semantic_rate)))
        known = codes.shape[-1]
        total = known + max(1, int(round(self.total_semantic / self._ratio)) - known)
        self.known, self.total = known, total
        # the model's acoustic generator, or its copy adapted to this prompt (continue_audio's, for the same steps)
        self.acoustic = acoustic = acoustic_for_prompt(model, semantic_prompt, codes, adaptation_steps)
        self._windowed = hasattr(acoustic, "fill_window")
        batch, levels = codes.shape[0], codes.shape[1]
        self.semantic = semantic_prompt
        self._semantic_prompt = semantic_prompt  # the semantic stage's prompt prior counts the given prompt only
        # the leading levels the generator makes (all, unless it is set to fewer); the prompt gives it all levels
        self.levels = getattr(getattr(acoustic, "config", None), "output_levels", levels)
        if self._windowed:  # the parallel generator fills masked ids in place, as its generate does
            self._ids = torch.full((batch, levels, total), acoustic.codebook_size, dtype=torch.long,
                                   device=codes.device)
            self._ids[..., :known] = codes
        else:
            self._ids = codes
        self.spans = self._plan(known, total)
        self._next_span = 0
        self._match_voice = model.voice_matcher(codes, voice_match, semantic_prompt)  # None: the model's config
        self._decoded: list[Tensor] = [codes[:, : self.levels]]  # the codes decoded (voice-matched, if on)
        self.decoder = ChunkedDecoder(model.codec, codes[:, : self.levels], lookahead_frames=config.lookahead_frames,
                                      crossfade_frames=config.crossfade_frames,
                                      postprocess=model.output_steps(prompt_audio, envelope_match=envelope_match,
                                                                      postfilter=postfilter))
        self.samples_out = 0
        self.time_to_first_audio: float | None = None
        self.elapsed = 0.0

    @classmethod
    def open(cls, model, prompt_wave, seconds: float, *, sample_rate: int | None,
             generator: torch.Generator | None, overrides: dict, voice_match: bool | None = None,
             envelope_match: float | None = None, postfilter: float | None = None,
             adaptation_steps: int | None = None, **config) -> "AudioStream":
        """:meth:`AudioLM.stream <audiolm_lib.pipeline.AudioLM.stream>`: tokenize the prompt (a tensor at
        ``sample_rate`` or a file), merge the sampling ``overrides`` with the model's defaults, start the stream.

        Example::

            for chunk in model.stream(prompt, 30.0, sample_rate=16000, generator=torch.Generator().manual_seed(0)):
                play(chunk[0, 0])
        """
        started = time.perf_counter()
        stream_config = StreamConfig(**config)
        if seconds is None or not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(f"seconds must be a positive, finite number, got {seconds}")
        with torch.inference_mode():
            semantic_prompt, codes, prompt_audio = model._prompt_tokens(prompt_wave, sample_rate, "stream")
        stages = ("semantic",) + tuple(model.acoustic.sampling_stages)
        sampling = {stage: model._sampling(stage, overrides) for stage in stages}
        return cls(model, semantic_prompt, codes, seconds, sampling=sampling, generator=generator,
                   config=stream_config, started=started, voice_match=voice_match, prompt_audio=prompt_audio,
                   envelope_match=envelope_match, postfilter=postfilter, adaptation_steps=adaptation_steps)

    @property
    def codes(self) -> Tensor:
        """``LongTensor[B, L, F]``: the codes decoded so far, prompt included (the levels the generator makes;
        each new frame matched to the prompt's where voice matching is on, as ``continue_audio``)."""
        return torch.cat(self._decoded, dim=-1)

    # ------------------------------------------------------------------------------ plan
    def _plan(self, known: int, total: int) -> list[Window]:
        cfg, acoustic, rate = self.config, self.acoustic, self.model.acoustic_rate
        if self._windowed:
            if cfg.exact:
                return acoustic.windows(known, total)
            window, context = int(acoustic.window), int(acoustic.context)
            default_chunk = window - context
        else:
            if cfg.exact:
                return [(0, known, total)]
            window = context = max(1, total)
            default_chunk = round(DEFAULT_SEQUENTIAL_CHUNK_SECONDS * rate)
        def frames(seconds: float | None, default: int) -> int:
            return default if seconds is None else max(1, round(seconds * rate))

        chunk = min(max(1, window - 1), frames(cfg.chunk_seconds, default_chunk))
        first = frames(cfg.first_chunk_seconds, chunk)
        return plan_chunks(known, total, window=window, context=context, first_new=first, chunk_new=chunk,
                           first_context=round(cfg.first_context_seconds * rate),
                           anchor=int(getattr(acoustic, "anchor", 0)) if self._windowed else 0)

    # ------------------------------------------------------------------------------ stages
    def _semantic_until(self, end_frame: int) -> None:
        """Generate semantic tokens until they cover acoustic frames ``.. end_frame`` (all of them if exact)."""
        have = self.semantic.shape[1]
        need = self.total_semantic if self.config.exact else min(self.total_semantic,
                                                                  math.ceil(end_frame * self._ratio - 1e-6))
        if need <= have:
            return
        lm = self.model.semantic_lm
        # the stage sees at most its window anyway: hand it only that (constant work per chunk)
        history = self.semantic if self.config.exact else self.semantic[:, max(0, have - getattr(lm, "window", have)):]
        extra = {"prior_tokens": self._semantic_prompt} if hasattr(getattr(lm, "config", None), "prompt_prior") else {}
        new = lm.generate(history, need - have, generator=self.generator, **self.sampling["semantic"], **extra)
        self.semantic = torch.cat([self.semantic, new], dim=1)

    def _acoustic(self, span: Window) -> Tensor:
        """Generate the frames of ``span``; returns them, ``LongTensor[B, Q, n]``."""
        start, cursor, end = span[:3]  # a generator's own Window may name anchor frames after these
        acoustic = self.acoustic
        if self._windowed:
            acoustic.fill_window(self.semantic, self._ids, span, generator=self.generator,
                                 **self.sampling.get("acoustic", {}))
            return self._ids[:, : self.levels, cursor:end]
        # a generator without windows: all codes so far as its prompt, the semantic tokens up to ``end``
        semantic = self.semantic[:, : max(1, min(self.semantic.shape[1], round(end * self._ratio)))]
        new = acoustic.generate_acoustic(semantic, self._ids if cursor else None, end - cursor,
                                         sampling=self.sampling, generator=self.generator)
        self._ids = torch.cat([self._ids, new], dim=-1)
        return new

    # ------------------------------------------------------------------------------ iteration
    @property
    def done(self) -> bool:
        return self._next_span >= len(self.spans)

    @torch.inference_mode()
    def step(self) -> Tensor:
        """Generate and decode the next chunk; ``Tensor[B, 1, t]`` (``t`` may be 0 while the decoder holds
        back the chunk's end for its right-hand context)."""
        if self.done:
            raise StopIteration
        began = time.perf_counter()
        span = self.spans[self._next_span]
        self._next_span += 1
        self._semantic_until(span[2])
        # frame by frame, so matching each chunk equals matching all at once; the generator keeps its own codes
        new = self._match_voice(self._acoustic(span), self.semantic)
        self._decoded.append(new)
        wave = self.decoder.push(new, final=self.done)
        now = time.perf_counter()
        self.elapsed += now - began
        if wave.shape[-1] and self.time_to_first_audio is None:
            self.time_to_first_audio = now - self.started
        self.samples_out += wave.shape[-1]
        return wave

    def __iter__(self) -> "AudioStream":
        return self

    def __next__(self) -> Tensor:
        while True:
            wave = self.step()  # raises StopIteration when done
            if wave.shape[-1]:
                return wave

    @property
    def stats(self) -> dict:
        """``time_to_first_audio`` (s, from the ``stream`` call), ``audio_seconds`` out so far, ``compute_seconds``
        spent in :meth:`step` and ``real_time_factor`` (compute / audio: below 1 keeps up with playback)."""
        audio = self.samples_out / float(self.model.sample_rate)
        return {"time_to_first_audio": self.time_to_first_audio, "audio_seconds": audio,
                "compute_seconds": self.elapsed, "real_time_factor": self.elapsed / audio if audio else None,
                "chunks": len(self.spans)}
