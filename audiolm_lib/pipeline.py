"""``AudioLM``: the hierarchical sampler that chains tokenizer -> semantic -> acoustic generator -> codec.

::

    prompt wave ─► semantic tokenizer ─► semantic ids ─┐
         └──────► codec.encode ─► codes[Q, F] ─────────┤
                                                       ▼
        SemanticLM (continue semantic) ─► acoustic generator (all Q levels) ─► codec.decode(codes) ─► wave

The acoustic generator is anything with the :class:`~audiolm_lib.interfaces.AcousticGeneratorProtocol`: a
parallel masked model (:class:`~audiolm_lib.lm.parallel.ParallelAcousticLM`, what the shipped checkpoints use), or
the paper's CoarseLM (levels 1..Qc) + FineLM (levels Qc+1..Qc+Qf) pair
(:class:`~audiolm_lib.lm.hierarchical.HierarchicalAcoustic`, what ``AudioLM(tok, codec, sem, coarse, fine)``
builds). Its parts are saved as sub-folders named by its
``components()`` and rebuilt by its class's ``from_components``.

Only this module (and ``audiolm_lib.training``) sees both audio components and language models; what a
component was trained on is checked by :mod:`audiolm_lib.provenance`.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch import nn

from audiolm_lib.audio import band_channel, prepare_wave
from audiolm_lib.interfaces import AcousticGeneratorProtocol, CodecProtocol, SemanticTokenizerProtocol
from audiolm_lib.lm.hierarchical import HierarchicalAcoustic
from audiolm_lib.lm.prompt_adaptation import acoustic_for_prompt
from audiolm_lib.pipeline_config import AudioLMConfig
from audiolm_lib.prompt import PromptCut, decoder_context_frames
from audiolm_lib.provenance import provenance_problems
from audiolm_lib.pipeline_io import BASE_COMPONENTS, load_pipeline, save_pipeline
from audiolm_lib.serialization import CheckpointError

COMPONENTS = BASE_COMPONENTS + ("coarse_lm", "fine_lm")  # those of the default (coarse + fine) pipeline


class AudioLM(nn.Module):
    """A semantic tokenizer, an acoustic codec, the semantic stage and an acoustic generator, chained.

    Args:
        semantic_tokenizer: audio -> semantic ids (:class:`~audiolm_lib.interfaces.SemanticTokenizerProtocol`).
        codec: audio <-> RVQ codes (:class:`~audiolm_lib.interfaces.CodecProtocol`).
        semantic_lm: the semantic stage (:mod:`audiolm_lib.lm.stages`).
        coarse_lm / fine_lm: the paper's acoustic stages (give these, or ``acoustic``).
        config: default sampling settings.
        acoustic: any acoustic generator (:class:`~audiolm_lib.interfaces.AcousticGeneratorProtocol`), e.g. a
            :class:`~audiolm_lib.lm.parallel.ParallelAcousticLM`, in place of ``coarse_lm`` + ``fine_lm``.

    Example::

        model = AudioLM.from_pretrained("checkpoints/piano")
        wave = model.continue_audio("prompt.wav", seconds=4.0, generator=torch.Generator().manual_seed(0))
        built = AudioLM(tokenizer, codec, semantic_lm, acoustic=ParallelAcousticLM.from_pretrained("runs/parallel/model"))
    """

    def __init__(
        self,
        semantic_tokenizer: SemanticTokenizerProtocol,
        codec: CodecProtocol,
        semantic_lm: nn.Module,
        coarse_lm: nn.Module | None = None,
        fine_lm: nn.Module | None = None,
        config: AudioLMConfig | None = None,
        *,
        acoustic: AcousticGeneratorProtocol | None = None,
    ):
        super().__init__()
        if acoustic is None:
            if coarse_lm is None or fine_lm is None:
                raise ValueError("AudioLM needs coarse_lm and fine_lm, or an acoustic generator (acoustic=...)")
            acoustic = HierarchicalAcoustic(coarse_lm, fine_lm)
        elif coarse_lm is not None or fine_lm is not None:
            raise ValueError("give either coarse_lm + fine_lm or acoustic=..., not both")
        self.semantic_tokenizer = semantic_tokenizer
        self.codec = codec
        self.semantic_lm = semantic_lm
        self.acoustic = acoustic
        self.config = config or AudioLMConfig()
        self._check_compatible()

    # ------------------------------------------------------------------------------------ properties
    @property
    def sample_rate(self) -> int:
        """Rate of the audio this model returns (the codec's)."""
        return int(self.codec.sample_rate)

    @property
    def num_quantizers(self) -> int:
        """RVQ levels the acoustic generator produces (and the prompt is encoded to)."""
        return int(self.acoustic.num_quantizers)

    @property
    def coarse_lm(self) -> nn.Module | None:
        """The coarse stage of the default acoustic generator (``None`` for another generator)."""
        return getattr(self.acoustic, "coarse_lm", None)

    @property
    def fine_lm(self) -> nn.Module | None:
        """The fine stage of the default acoustic generator (``None`` for another generator)."""
        return getattr(self.acoustic, "fine_lm", None)

    @property
    def num_coarse(self) -> int:
        """Coarse levels of the coarse + fine pair (all levels for a one-model generator)."""
        return int(getattr(self.acoustic, "num_coarse", self.num_quantizers))

    @property
    def num_fine(self) -> int:
        """Fine levels of the coarse + fine pair (0 for a one-model generator)."""
        return int(getattr(self.acoustic, "num_fine", 0))

    def components(self) -> dict[str, nn.Module]:
        """``{sub-folder name: component}`` of :meth:`save_pretrained`, acoustic generator parts included."""
        parts = {name: getattr(self, name) for name in BASE_COMPONENTS}
        parts.update(self.acoustic.components())
        return parts

    @property
    def semantic_rate(self) -> float:
        return float(self.semantic_tokenizer.frame_rate)

    @property
    def acoustic_rate(self) -> float:
        return float(self.codec.frame_rate)

    def _check_compatible(self) -> None:
        """Fail early, naming the mismatch, when components were trained for different token spaces."""
        tok, codec, acoustic = self.semantic_tokenizer, self.codec, self.acoustic
        for name, part, kind, what in (("semantic_tokenizer", tok, SemanticTokenizerProtocol, "semantic tokenizer"),
                                       ("codec", codec, CodecProtocol, "codec"),
                                       ("acoustic", acoustic, AcousticGeneratorProtocol, "acoustic generator")):
            if not isinstance(part, kind):
                raise CheckpointError(f"AudioLM {name} is a {type(part).__name__}, not a {what}")
        sem = self.semantic_lm.config
        problems = list(acoustic.compatibility_problems())

        def expect(what: str, a, b) -> None:
            if (isinstance(a, float) or isinstance(b, float)) and math.isclose(float(a), float(b), rel_tol=1e-6):
                return
            if a != b:
                problems.append(f"{what}: {a} != {b}")

        expect("semantic vocabulary (tokenizer vs semantic LM)", tok.vocab_size, sem.vocab_size)
        name = f"acoustic generator {type(acoustic).__name__}"
        expect(f"semantic vocabulary (tokenizer vs {name})", tok.vocab_size, acoustic.semantic_vocab_size)
        expect("semantic rate (tokenizer vs semantic LM)", float(tok.frame_rate), float(sem.semantic_rate))
        expect(f"semantic rate (tokenizer vs {name})", float(tok.frame_rate), float(acoustic.semantic_rate))
        expect(f"acoustic rate (codec vs {name})", float(codec.frame_rate), float(acoustic.acoustic_rate))
        expect(f"codebook size (codec vs {name})", codec.codebook_size, acoustic.codebook_size)
        if acoustic.num_quantizers > codec.num_quantizers:
            problems.append(f"the acoustic generator uses {acoustic.num_quantizers} RVQ levels but the codec has "
                            f"only {codec.num_quantizers}")
        if not problems:  # same token spaces: were the stages trained on this tokenizer's and codec's tokens?
            problems += provenance_problems(self.components())
        if problems:
            raise CheckpointError("AudioLM components do not fit together: " + "; ".join(problems))

    # ------------------------------------------------------------------------------------ tokens
    def _min_prompt_samples(self, rate: int) -> int:
        """One frame of the slower of the two token streams, in samples at ``rate``."""
        return int(math.ceil(rate / min(self.semantic_rate, self.acoustic_rate)))

    @torch.inference_mode()
    def tokenize(self, wave: torch.Tensor, sample_rate: int, codes_band_hz: float | None = None,
                 codes_band_mode: str = "cut") -> tuple[torch.Tensor, torch.Tensor]:
        """Audio -> (semantic ``LongTensor[B, S]``, codes ``LongTensor[B, Q, F]``), time-aligned.

        ``wave``: ``Tensor[T]``, ``Tensor[C, T]`` (downmixed) or ``Tensor[B, C, T]`` at ``sample_rate``.
        Both streams are trimmed to the same duration (the shorter of the two). ``codes_band_hz``: the codes are
        those of the wave through :func:`~audiolm_lib.audio.band_channel` at this band (``codes_band_mode``: cut,
        fold or extend); the semantic ids always hear the whole band.
        """
        device = self._device()
        tok_wave = prepare_wave(wave, sample_rate, self.semantic_tokenizer.sample_rate,
                                min_samples=self._min_prompt_samples(self.semantic_tokenizer.sample_rate))
        codec_wave = prepare_wave(wave, sample_rate, self.codec.sample_rate,
                                  min_samples=self._min_prompt_samples(self.codec.sample_rate))
        if codes_band_hz is not None:
            codec_wave = band_channel(codec_wave, self.codec.sample_rate, codes_band_hz, codes_band_mode)
        semantic = self.semantic_tokenizer.tokenize(tok_wave.to(device)).long()
        codes = self.codec.encode(codec_wave.to(device)).long()[:, : self.num_quantizers]
        seconds = min(semantic.shape[-1] / self.semantic_rate, codes.shape[-1] / self.acoustic_rate)
        num_semantic = max(1, int(math.floor(seconds * self.semantic_rate + 1e-6)))
        num_frames = max(1, int(math.floor(seconds * self.acoustic_rate + 1e-6)))
        return semantic[:, :num_semantic], codes[..., :num_frames]

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor, prompt_audio: torch.Tensor | None = None) -> torch.Tensor:
        """``LongTensor[B, Q, F]`` -> ``Tensor[B, 1, T]`` at :attr:`sample_rate`, through the pipeline's steps after
        the decoder (:meth:`output_steps`: envelope matching to ``prompt_audio`` where it is given and on, then the
        pitch postfilter where it is on)."""
        return self.output_steps(prompt_audio)(self.codec.decode(codes))

    def output_steps(self, prompt_audio: torch.Tensor | None = None, *, envelope_match: float | None = None,
                     postfilter: float | None = None):
        """The steps after the decoder, as one function ``Tensor[B, 1, T] -> Tensor[B, 1, T]``
        (:func:`~audiolm_lib.output_steps.build_output_steps`): envelope matching to ``prompt_audio``
        (``Tensor[B, 1, P]`` at :attr:`sample_rate`) where it is given and on, then the pitch postfilter.
        ``envelope_match`` / ``postfilter``: their strengths for this function only (None: ``config``'s)."""
        from audiolm_lib.output_steps import build_output_steps

        return build_output_steps(self.config, self.sample_rate, prompt_audio, envelope_match=envelope_match,
                                  postfilter=postfilter)

    def postfilter(self, wave: torch.Tensor) -> torch.Tensor:
        """``Tensor[..., T]`` decoded audio through the pitch postfilter of ``config.postfilter_strength``
        (:mod:`audiolm_lib.postfilter`; the wave as it is where the strength is 0): :meth:`output_steps` without a
        prompt."""
        return self.output_steps()(wave)

    # ------------------------------------------------------------------------------------ sampling
    def _sampling(self, stage: str, overrides: dict) -> dict:
        base = getattr(self.config, stage)
        merged = {"temperature": base.temperature, "top_k": base.top_k, "top_p": base.top_p}
        merged.update({k: v for k, v in overrides.items() if v is not None})
        return merged

    @torch.inference_mode()
    def generate_tokens(
        self,
        semantic_prompt: torch.Tensor,
        acoustic_prompt: torch.Tensor | None,
        fine_prompt: torch.Tensor | None = None,
        seconds: float | None = None,
        *,
        generator: torch.Generator | None = None,
        semantic: dict | None = None,
        coarse: dict | None = None,
        fine: dict | None = None,
        acoustic: dict | None = None,
        progress: bool = False,
        voice_match: bool | None = None,
        adaptation_steps: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Run the semantic stage and the acoustic generator; returns ``{"semantic": [B, S], "codes": [B, Q, F]}``
        incl. the prompt (``[B, L, F]``: the leading ``L`` levels, for a generator set to make only those).

        ``semantic_prompt``: ``LongTensor[B, S0]`` (``S0`` may be 0); ``acoustic_prompt``: ``[B, Q, F0]`` codes of
        the prompt or None (or, as before, the coarse levels ``[B, Qc, F0]`` with the fine ones in ``fine_prompt``).
        ``semantic`` / ``coarse`` / ``fine`` / ``acoustic``: per-stage sampling overrides (``temperature``,
        ``top_k``, ``top_p``); the acoustic generator reads the stages it names in ``sampling_stages``.
        ``voice_match``: move the new frames toward the prompt's voice (:meth:`voice_matcher`; None: ``config``'s).
        ``adaptation_steps``: adapt a copy of the generator to the prompt first (None: ``config``'s; 0: off).
        """
        if seconds is None or not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(f"seconds must be a positive, finite number, got {seconds}")
        if fine_prompt is not None:
            if acoustic_prompt is None:
                raise ValueError("fine_prompt needs the coarse levels of the prompt too")
            acoustic_prompt = torch.cat([acoustic_prompt, fine_prompt], dim=1)
        from tqdm.auto import tqdm

        # made before generating, so a setting the prompt cannot serve is refused before any work
        matcher = None if acoustic_prompt is None or not acoustic_prompt.shape[-1] else self.voice_matcher(
            acoustic_prompt, voice_match, semantic_prompt)
        acoustic_lm = acoustic_for_prompt(self, semantic_prompt, acoustic_prompt, adaptation_steps)
        bar = tqdm(total=2, desc="AudioLM", disable=not progress, leave=False)
        num_new_semantic = max(1, int(round(seconds * self.semantic_rate)))
        new_semantic = self.semantic_lm.generate(
            semantic_prompt, num_new_semantic, generator=generator, **self._sampling("semantic", semantic or {})
        )
        all_semantic = torch.cat([semantic_prompt, new_semantic], dim=1)
        bar.update(1)
        num_prompt_frames = 0 if acoustic_prompt is None else acoustic_prompt.shape[-1]
        total_frames = int(round(all_semantic.shape[1] * self.acoustic_rate / self.semantic_rate))
        num_new_frames = max(1, total_frames - num_prompt_frames)
        overrides = {"coarse": coarse, "fine": fine, "acoustic": acoustic}
        sampling = {stage: self._sampling(stage, overrides.get(stage) or {}) for stage in self.acoustic.sampling_stages}
        new_codes = acoustic_lm.generate_acoustic(all_semantic, acoustic_prompt, num_new_frames, sampling=sampling,
                                                  generator=generator, progress=progress)
        bar.update(1)
        bar.close()
        if matcher is not None:
            new_codes = matcher(new_codes, all_semantic)
        # a generator that makes only the leading levels (``generated_levels``): the prompt's are cut to match
        codes = new_codes if acoustic_prompt is None else torch.cat(
            [acoustic_prompt[:, : new_codes.shape[1]], new_codes], dim=-1)
        return {"semantic": all_semantic, "codes": codes}

    def voice_matcher(self, prompt_codes: torch.Tensor, enabled: bool | None = None,
                      prompt_semantic: torch.Tensor | None = None):
        """A callable that maps new codes ``[B, L, F]``, chunk after chunk with the semantic ids ``[B, S]`` from the
        prompt's first frame on (:class:`~audiolm_lib.voice_match.InOrder`), toward the voice of ``prompt_codes``
        ``[B, Q, F0]`` by ``config.voice_match_method`` when ``enabled`` (None: ``config.voice_match``) is on
        (:mod:`audiolm_lib.voice_match`), else returns them as they are. ``prompt_semantic`` ``[B, S0]``: the
        prompt's semantic ids, which choosing by content (``config.voice_match_content_weight``) reads."""
        config = self.config
        if not (config.voice_match if enabled is None else enabled):
            return lambda new_codes, semantic=None: new_codes
        from audiolm_lib.voice_match import InOrder, content_table, frame_ids, voice_matcher_for

        content, ratio = None, self.semantic_rate / self.acoustic_rate
        if config.voice_match_content_weight and prompt_semantic is not None and prompt_semantic.shape[1]:
            content = (content_table(self.semantic_tokenizer).to(prompt_codes.device),
                       frame_ids(prompt_semantic, 0, prompt_codes.shape[-1], ratio))
        return InOrder(voice_matcher_for(self.codec, prompt_codes, config, content), prompt_codes.shape[-1], ratio)

    def match_voice(self, new_codes: torch.Tensor, prompt_codes: torch.Tensor, enabled: bool | None = None,
                    semantic: torch.Tensor | None = None) -> torch.Tensor:
        """``new_codes`` ``[B, L, F]`` as :meth:`voice_matcher` maps them, all at once; ``semantic`` ``[B, S]``:
        the semantic ids of the prompt and the new frames, from the prompt's first frame (by content only)."""
        return self.voice_matcher(prompt_codes, enabled, semantic)(new_codes, semantic)

    @torch.inference_mode()
    def load_prompt(self, path: str | os.PathLike, prompt_seconds: float | None = None) -> torch.Tensor:
        """The part of an audio file :meth:`continue_audio` uses, at :attr:`sample_rate`: ``Tensor[1, T]``.

        Only the end that the models see (:meth:`prompt_cut`) is decoded, so a long recording costs what a
        short one does; ``prompt_seconds`` keeps only the file's first seconds before that cut.
        """
        from audiolm_lib.audio import audio_info, load_audio

        frames, file_rate = audio_info(path)
        stop = frames if prompt_seconds is None else min(frames, max(1, round(prompt_seconds * file_rate)))
        return load_audio(path, sample_rate=self.sample_rate, start=self.prompt_cut(stop, file_rate).start, stop=stop)

    def continue_audio(
        self,
        prompt_wave: torch.Tensor | str | os.PathLike,
        seconds: float,
        *,
        sample_rate: int | None = None,
        generator: torch.Generator | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        return_prompt: bool = False,
        return_tokens: bool = False,
        progress: bool = False,
        voice_match: bool | None = None,
        adaptation_steps: int | None = None,
    ):
        """Continue ``prompt_wave`` by ``seconds`` of audio.

        Args:
            prompt_wave: an audio file (read at its own rate, see :meth:`load_prompt`), or ``Tensor[T]``,
                ``Tensor[C, T]`` (downmixed) or ``Tensor[B, C, T]`` at ``sample_rate``.
            seconds: length of the continuation.
            sample_rate: rate of a ``prompt_wave`` tensor; required for one (a wrong rate shifts the pitch, so it is
                never guessed). ``load_audio(path, sample_rate=model.sample_rate)`` reads a file at the model's.
            generator: a seeded ``torch.Generator`` makes the output exactly reproducible.
            temperature / top_k / top_p: override the sampling of every stage.
            return_prompt: include the (re-synthesised) prompt before the continuation: the part of it the
                models use (all of a prompt shorter than :meth:`prompt_cut`'s context).
            return_tokens: also return the token dict of :meth:`generate_tokens`.
            voice_match: move the continuation toward the prompt's voice by ``config.voice_match_method``
                (:mod:`audiolm_lib.voice_match`); None: the model's ``config.voice_match``.
            adaptation_steps: steps of adapting the acoustic generator to the prompt (None: the config's; 0: off).

        Returns:
            ``Tensor[B, 1, T]`` at :attr:`sample_rate` (and the tokens if ``return_tokens``).

        Only the prompt's last :meth:`prompt_cut` samples are encoded and decoded, so a 20-minute prompt costs
        what a prompt of the context's length costs.
        """
        semantic_prompt, codes, prompt_audio = self._prompt_tokens(prompt_wave, sample_rate, "continue_audio")
        overrides = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
        tokens = self.generate_tokens(semantic_prompt, codes, None, seconds, generator=generator, semantic=overrides,
                                      coarse=overrides, fine=overrides, acoustic=overrides, progress=progress,
                                      voice_match=voice_match, adaptation_steps=adaptation_steps)
        tokens["prompt_frames"] = codes.shape[-1]
        wave = self._decode_tail(tokens["codes"], 0 if return_prompt else codes.shape[-1], prompt_audio)
        return (wave, tokens) if return_tokens else wave

    def _prompt_tokens(self, prompt_wave, sample_rate: int | None,
                       caller: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The prompt's (semantic ``[B, S0]``, codes ``[B, Q, F0]``, audio ``Tensor[B, 1, P]`` at
        :attr:`sample_rate`), of the part the models use; ``prompt_wave`` a tensor at ``sample_rate`` or a file path
        (read at the model's rate, only the part used)."""
        if isinstance(prompt_wave, (str, os.PathLike)):
            if sample_rate is not None:
                raise ValueError(f"{caller} reads a prompt file at its own rate; give sample_rate only with a tensor")
            prompt_wave, sample_rate = self.load_prompt(prompt_wave), self.sample_rate
        if sample_rate is None:
            raise ValueError(f"{caller} needs sample_rate=, the rate of prompt_wave (the model's is "
                             f"{self.sample_rate} Hz): load_audio(path, sample_rate=model.sample_rate) reads a file at "
                             "the model's rate, or pass the file path itself")
        rate = int(sample_rate)
        prompt_wave = prompt_wave if hasattr(prompt_wave, "shape") else torch.as_tensor(prompt_wave)
        cut = self.prompt_cut(prompt_wave.shape[-1], rate)  # only the tail the models use is encoded
        semantic_prompt, codes = self.tokenize(prompt_wave[..., cut.start:], rate, self.config.prompt_band_hz,
                                               self.config.prompt_band_mode)
        drop_frames = cut.drop_tokens(self.acoustic_rate)
        audio = prepare_wave(prompt_wave[..., cut.start:], rate, self.sample_rate)  # what envelope matching hears
        audio = audio[..., drop_frames * int(self.codec.hop_length):]  # from the first code frame kept on
        return semantic_prompt[:, cut.drop_tokens(self.semantic_rate):], codes[..., drop_frames:], audio

    def stream(self, prompt_wave: torch.Tensor | str | os.PathLike, seconds: float, *,
               sample_rate: int | None = None, generator: torch.Generator | None = None,
               temperature: float | None = None, top_k: int | None = None, top_p: float | None = None,
               chunk_seconds: float | None = None, first_chunk_seconds: float | None = 1.0,
               voice_match: bool | None = None, envelope_match: float | None = None,
               postfilter: float | None = None, adaptation_steps: int | None = None, **options):
        """:meth:`continue_audio` chunk by chunk: an :class:`~audiolm_lib.streaming.AudioStream`, an iterator of
        ``Tensor[B, 1, t]`` that holds all generation state (several may run on one model). ``chunk_seconds``,
        ``first_chunk_seconds`` and ``options`` are a :class:`~audiolm_lib.streaming.StreamConfig`; with both
        ``None`` the codes equal :meth:`continue_audio`'s for the same seed. ``envelope_match`` / ``postfilter``:
        this stream's strengths of the steps after the decoder (:meth:`output_steps`; None: the model's);
        ``adaptation_steps``: as :meth:`continue_audio`'s."""
        from audiolm_lib.streaming import AudioStream

        return AudioStream.open(self, prompt_wave, seconds, sample_rate=sample_rate, generator=generator,
                                overrides={"temperature": temperature, "top_k": top_k, "top_p": top_p},
                                voice_match=voice_match, envelope_match=envelope_match, postfilter=postfilter,
                                adaptation_steps=adaptation_steps, chunk_seconds=chunk_seconds,
                                first_chunk_seconds=first_chunk_seconds, **options)

    @torch.inference_mode()
    def generate(
        self,
        seconds: float,
        *,
        batch_size: int = 1,
        generator: torch.Generator | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        return_tokens: bool = False,
        progress: bool = False,
    ):
        """Unconditioned generation of ``seconds`` of audio: ``Tensor[batch_size, 1, T]``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        empty = torch.zeros(batch_size, 0, dtype=torch.long, device=self._device())
        overrides = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
        tokens = self.generate_tokens(empty, None, None, seconds, generator=generator, semantic=overrides,
                                      coarse=overrides, fine=overrides, acoustic=overrides, progress=progress)
        wave = self.decode(tokens["codes"])
        return (wave, tokens) if return_tokens else wave

    def quantize_int8(self, which: str = "all") -> "AudioLM":
        """A copy whose language models run their Linear layers in int8 (CPU inference).

        ``which``: ``"all"`` quantises the semantic stage and the acoustic generator; ``"preferred"`` only the
        components that declare ``prefers_int8 = True`` (whose passes are large GEMMs, where int8 measured faster:
        the parallel acoustic model); a copy with nothing quantised is this model itself. ``torch.ao`` dynamic
        quantisation (:mod:`audiolm_lib.lm.quantize`): weights int8, activations quantised per call. The tokenizer
        and codec are shared, not copied. Not for training or ``save_pretrained``: quantise after loading. Speed
        and loss change per component: BENCHMARKS.md, "Acoustic generators". The acoustic generator stays float
        while ``config.prompt_adaptation_steps`` is on (each prompt's adapted copy fine-tunes its weights).
        """
        from audiolm_lib.lm.quantize import quantize_linear_int8

        if which not in ("all", "preferred"):
            raise ValueError(f"which must be 'all' or 'preferred', got {which!r}")
        pick = lambda part: quantize_linear_int8(part) if which == "all" or getattr(part, "prefers_int8", False) else part  # noqa: E731
        semantic = pick(self.semantic_lm)
        acoustic = self.acoustic if self.config.prompt_adaptation_steps else pick(self.acoustic)
        if semantic is self.semantic_lm and acoustic is self.acoustic:
            return self
        return AudioLM(self.semantic_tokenizer, self.codec, semantic, config=self.config, acoustic=acoustic).eval()

    def _decode_tail(self, codes: torch.Tensor, skip_frames: int,
                     prompt_audio: torch.Tensor | None = None) -> torch.Tensor:
        """Decode from the decoder's receptive field before frame ``skip_frames`` on, and drop that context
        (``prompt_audio``: see :meth:`decode`)."""
        first = max(0, skip_frames - decoder_context_frames(self.codec))
        wave = self.decode(codes[..., first:], prompt_audio)
        hop = int(self.codec.hop_length)
        return wave[..., (skip_frames - first) * hop :]

    def prompt_cut(self, num_samples: int, sample_rate: int) -> PromptCut:
        """Which samples of a ``num_samples`` prompt at ``sample_rate`` :meth:`continue_audio` encodes.

        The largest context window of any stage, plus the codec's and the tokenizer's receptive fields,
        before the prompt's end, on the frame grid of both token streams (see :mod:`audiolm_lib.prompt`);
        read a long file from ``cut.start`` on to load only that.
        """
        from audiolm_lib.prompt import (codec_context_seconds, context_seconds, plan_prompt_cut,
                                        tokenizer_context_seconds)

        margin = max(codec_context_seconds(self.codec), tokenizer_context_seconds(self.semantic_tokenizer))
        return plan_prompt_cut(int(num_samples), int(sample_rate), context_seconds(self.modules()), margin,
                               (self.semantic_rate, self.acoustic_rate))

    def _device(self) -> torch.device:
        for module in (self.semantic_lm, self.acoustic):
            for param in module.parameters():
                return param.device
        return torch.device("cpu")

    # ------------------------------------------------------------------------------------ checkpoints
    def save_pretrained(self, directory: str | os.PathLike, dtype: str | None = None) -> Path:
        """Write one sub-directory per component (each ``config.json`` + ``model.safetensors``) and the pipeline's
        ``config.json``; ``dtype`` "float16" stores the weights at half width (loading casts them back; for
        distributing a model). :func:`audiolm_lib.pipeline_io.save_pipeline`."""
        return save_pipeline(self, directory, dtype)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, map_location: str | torch.device = "cpu") -> "AudioLM":
        """Load a directory written by :meth:`save_pretrained`; errors name the missing or mismatched part.
        :func:`audiolm_lib.pipeline_io.load_pipeline`."""
        return load_pipeline(cls, directory, map_location)
