"""``AudioLM``: the hierarchical sampler that chains tokenizer -> semantic -> coarse -> fine -> codec.

::

    prompt wave ─► semantic tokenizer ─► semantic ids ─┐
         └──────► codec.encode ─► codes[Q, F] ─────────┤
                                                       ▼
        SemanticLM (continue semantic) ─► CoarseLM (levels 1..Qc) ─► FineLM (levels Qc+1..Qc+Qf)
                                                       ▼
                                         codec.decode(codes) ─► wave

Only this module (and ``audiolm_lib.training``) sees both audio components and language models.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from audiolm_lib.audio import prepare_wave
from audiolm_lib.interfaces import CodecProtocol, SemanticTokenizerProtocol
from audiolm_lib.lm.sampling import SamplingConfig
from audiolm_lib.serialization import (
    CONFIG_NAME,
    CheckpointError,
    atomic_write_text,
    class_path,
    config_from_dict,
    config_to_dict,
    load_config_file,
    load_pretrained,
)

COMPONENTS = ("semantic_tokenizer", "codec", "semantic_lm", "coarse_lm", "fine_lm")


@dataclass
class AudioLMConfig:
    """Default sampling settings per stage (each call may override them)."""

    semantic: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=1.0, top_k=None, top_p=None))
    coarse: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=0.95, top_k=None, top_p=None))
    fine: SamplingConfig = field(default_factory=lambda: SamplingConfig(temperature=0.4, top_k=None, top_p=None))


class AudioLM(nn.Module):
    """A semantic tokenizer, an acoustic codec and the three token language models, chained.

    Args:
        semantic_tokenizer: audio -> semantic ids (:class:`~audiolm_lib.interfaces.SemanticTokenizerProtocol`).
        codec: audio <-> RVQ codes (:class:`~audiolm_lib.interfaces.CodecProtocol`).
        semantic_lm / coarse_lm / fine_lm: the three stages (:mod:`audiolm_lib.lm.stages`).
        config: default sampling settings.

    Example::

        model = AudioLM.from_pretrained("checkpoints/piano")
        wave = model.continue_audio(load_audio("prompt.wav"), seconds=4.0, sample_rate=16000,
                                    generator=torch.Generator().manual_seed(0))
    """

    def __init__(
        self,
        semantic_tokenizer: SemanticTokenizerProtocol,
        codec: CodecProtocol,
        semantic_lm: nn.Module,
        coarse_lm: nn.Module,
        fine_lm: nn.Module,
        config: AudioLMConfig | None = None,
    ):
        super().__init__()
        self.semantic_tokenizer = semantic_tokenizer
        self.codec = codec
        self.semantic_lm = semantic_lm
        self.coarse_lm = coarse_lm
        self.fine_lm = fine_lm
        self.config = config or AudioLMConfig()
        self._check_compatible()

    # ------------------------------------------------------------------------------------ properties
    @property
    def sample_rate(self) -> int:
        """Rate of the audio this model returns (the codec's)."""
        return int(self.codec.sample_rate)

    @property
    def num_coarse(self) -> int:
        return int(self.coarse_lm.config.num_coarse_quantizers)

    @property
    def num_fine(self) -> int:
        return int(self.fine_lm.config.num_fine_quantizers)

    @property
    def semantic_rate(self) -> float:
        return float(self.semantic_tokenizer.frame_rate)

    @property
    def acoustic_rate(self) -> float:
        return float(self.codec.frame_rate)

    def _check_compatible(self) -> None:
        """Fail early, naming the mismatch, when components were trained for different token spaces."""
        tok, codec = self.semantic_tokenizer, self.codec
        sem, coarse, fine = self.semantic_lm.config, self.coarse_lm.config, self.fine_lm.config
        problems = []

        def expect(what: str, a, b) -> None:
            if (isinstance(a, float) or isinstance(b, float)) and math.isclose(float(a), float(b), rel_tol=1e-6):
                return
            if a != b:
                problems.append(f"{what}: {a} != {b}")

        expect("semantic vocabulary (tokenizer vs semantic LM)", tok.vocab_size, sem.vocab_size)
        expect("semantic vocabulary (tokenizer vs coarse LM)", tok.vocab_size, coarse.semantic_vocab_size)
        expect("semantic rate (tokenizer vs semantic LM)", float(tok.frame_rate), float(sem.semantic_rate))
        expect("semantic rate (tokenizer vs coarse LM)", float(tok.frame_rate), float(coarse.semantic_rate))
        expect("acoustic rate (codec vs coarse LM)", float(codec.frame_rate), float(coarse.acoustic_rate))
        expect("acoustic rate (codec vs fine LM)", float(codec.frame_rate), float(fine.acoustic_rate))
        expect("codebook size (codec vs coarse LM)", codec.codebook_size, coarse.codebook_size)
        expect("codebook size (codec vs fine LM)", codec.codebook_size, fine.codebook_size)
        expect("coarse levels (coarse LM vs fine LM)", coarse.num_coarse_quantizers, fine.num_coarse_quantizers)
        if coarse.num_coarse_quantizers + fine.num_fine_quantizers > codec.num_quantizers:
            problems.append(
                f"stages use {coarse.num_coarse_quantizers} + {fine.num_fine_quantizers} RVQ levels but the codec "
                f"has only {codec.num_quantizers}"
            )
        if problems:
            raise CheckpointError("AudioLM components do not fit together: " + "; ".join(problems))

    # ------------------------------------------------------------------------------------ tokens
    def _min_prompt_samples(self, rate: int) -> int:
        """One frame of the slower of the two token streams, in samples at ``rate``."""
        return int(math.ceil(rate / min(self.semantic_rate, self.acoustic_rate)))

    @torch.inference_mode()
    def tokenize(self, wave: torch.Tensor, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio -> (semantic ``LongTensor[B, S]``, codes ``LongTensor[B, Qc + Qf, F]``), time-aligned.

        ``wave``: ``Tensor[T]``, ``Tensor[C, T]`` (downmixed) or ``Tensor[B, C, T]`` at ``sample_rate``.
        Both streams are trimmed to the same duration (the shorter of the two).
        """
        device = self._device()
        tok_wave = prepare_wave(wave, sample_rate, self.semantic_tokenizer.sample_rate,
                                min_samples=self._min_prompt_samples(self.semantic_tokenizer.sample_rate))
        codec_wave = prepare_wave(wave, sample_rate, self.codec.sample_rate,
                                  min_samples=self._min_prompt_samples(self.codec.sample_rate))
        semantic = self.semantic_tokenizer.tokenize(tok_wave.to(device)).long()
        codes = self.codec.encode(codec_wave.to(device)).long()[:, : self.num_coarse + self.num_fine]
        seconds = min(semantic.shape[-1] / self.semantic_rate, codes.shape[-1] / self.acoustic_rate)
        num_semantic = max(1, int(math.floor(seconds * self.semantic_rate + 1e-6)))
        num_frames = max(1, int(math.floor(seconds * self.acoustic_rate + 1e-6)))
        return semantic[:, :num_semantic], codes[..., :num_frames]

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``LongTensor[B, Q, F]`` -> ``Tensor[B, 1, T]`` at :attr:`sample_rate`."""
        return self.codec.decode(codes)

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
        coarse_prompt: torch.Tensor | None,
        fine_prompt: torch.Tensor | None,
        seconds: float,
        *,
        generator: torch.Generator | None = None,
        semantic: dict | None = None,
        coarse: dict | None = None,
        fine: dict | None = None,
        progress: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Run the three stages; returns ``{"semantic": [B, S], "codes": [B, Qc + Qf, F]}`` incl. the prompt.

        ``semantic_prompt``: ``LongTensor[B, S0]`` (``S0`` may be 0); ``coarse_prompt``: ``[B, Qc, F0]`` or None;
        ``fine_prompt``: ``[B, Qf, F0]`` or None. ``semantic`` / ``coarse`` / ``fine``: per-stage sampling
        overrides (``temperature``, ``top_k``, ``top_p``).
        """
        if seconds <= 0:
            raise ValueError(f"seconds must be positive, got {seconds}")
        from tqdm.auto import tqdm

        bar = tqdm(total=3, desc="AudioLM", disable=not progress, leave=False)
        num_new_semantic = max(1, int(round(seconds * self.semantic_rate)))
        new_semantic = self.semantic_lm.generate(
            semantic_prompt, num_new_semantic, generator=generator, **self._sampling("semantic", semantic or {})
        )
        all_semantic = torch.cat([semantic_prompt, new_semantic], dim=1)
        bar.update(1)
        num_prompt_frames = 0 if coarse_prompt is None else coarse_prompt.shape[-1]
        total_frames = int(round(all_semantic.shape[1] * self.acoustic_rate / self.semantic_rate))
        num_new_frames = max(1, total_frames - num_prompt_frames)
        new_coarse = self.coarse_lm.generate(
            all_semantic, coarse_prompt, num_new_frames, generator=generator, **self._sampling("coarse", coarse or {})
        )
        all_coarse = new_coarse if coarse_prompt is None else torch.cat([coarse_prompt, new_coarse], dim=-1)
        bar.update(1)
        new_fine = self.fine_lm.generate(all_coarse, fine_prompt, generator=generator, **self._sampling("fine", fine or {}))
        all_fine = new_fine if fine_prompt is None else torch.cat([fine_prompt, new_fine], dim=-1)
        bar.update(1)
        bar.close()
        return {"semantic": all_semantic, "codes": torch.cat([all_coarse, all_fine], dim=1)}

    @torch.inference_mode()
    def continue_audio(
        self,
        prompt_wave: torch.Tensor,
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
    ):
        """Continue ``prompt_wave`` by ``seconds`` of audio.

        Args:
            prompt_wave: ``Tensor[T]``, ``Tensor[C, T]`` (downmixed) or ``Tensor[B, C, T]``.
            seconds: length of the continuation.
            sample_rate: rate of ``prompt_wave`` (default: the codec's rate).
            generator: a seeded ``torch.Generator`` makes the output exactly reproducible.
            temperature / top_k / top_p: override the sampling of all three stages.
            return_prompt: include the (re-synthesised) prompt before the continuation.
            return_tokens: also return the token dict of :meth:`generate_tokens`.

        Returns:
            ``Tensor[B, 1, T]`` at :attr:`sample_rate` (and the tokens if ``return_tokens``).
        """
        rate = self.sample_rate if sample_rate is None else int(sample_rate)
        semantic_prompt, codes = self.tokenize(prompt_wave, rate)
        overrides = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
        tokens = self.generate_tokens(
            semantic_prompt,
            codes[:, : self.num_coarse],
            codes[:, self.num_coarse :],
            seconds,
            generator=generator,
            semantic=overrides,
            coarse=overrides,
            fine=overrides,
            progress=progress,
        )
        tokens["prompt_frames"] = codes.shape[-1]
        wave = self._decode_tail(tokens["codes"], 0 if return_prompt else codes.shape[-1])
        return (wave, tokens) if return_tokens else wave

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
        tokens = self.generate_tokens(empty, None, None, seconds, generator=generator,
                                      semantic=overrides, coarse=overrides, fine=overrides, progress=progress)
        wave = self.decode(tokens["codes"])
        return (wave, tokens) if return_tokens else wave

    def _decode_tail(self, codes: torch.Tensor, skip_frames: int) -> torch.Tensor:
        """Decode all frames (the prompt gives the decoder its context), then drop the first ``skip_frames``."""
        wave = self.decode(codes)
        hop = int(self.codec.hop_length)
        return wave[..., skip_frames * hop :]

    def _device(self) -> torch.device:
        for module in (self.semantic_lm, self.coarse_lm, self.fine_lm):
            for param in module.parameters():
                return param.device
        return torch.device("cpu")

    # ------------------------------------------------------------------------------------ checkpoints
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write one sub-directory per component (each ``config.json`` + ``model.safetensors``)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name in COMPONENTS:
            component = getattr(self, name)
            if not hasattr(component, "save_pretrained"):
                raise TypeError(f"{name} ({type(component).__name__}) has no save_pretrained")
            component.save_pretrained(directory / name)
        meta = {
            "class": class_path(type(self)),
            "format_version": 1,
            "config": config_to_dict(self.config),
            "components": {name: name for name in COMPONENTS},
        }
        atomic_write_text(directory / CONFIG_NAME, json.dumps(meta, indent=2) + "\n")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, map_location: str | torch.device = "cpu") -> "AudioLM":
        """Load a directory written by :meth:`save_pretrained`; errors name the missing or mismatched part."""
        directory = Path(directory)
        meta = load_config_file(directory)
        if meta["class"] != class_path(cls):
            raise CheckpointError(f"{directory} holds a {meta['class'].rpartition('.')[2]}, not an AudioLM pipeline")
        components = meta.get("components") or {}
        missing = [name for name in COMPONENTS if name not in components]
        if missing:
            raise CheckpointError(f"{directory / CONFIG_NAME} lists no {missing}")
        parts = {}
        for name in COMPONENTS:
            try:
                parts[name] = load_pretrained(directory / components[name], map_location=map_location)
            except CheckpointError as exc:
                raise CheckpointError(f"AudioLM component '{name}': {exc}") from exc
        config = config_from_dict(AudioLMConfig, meta["config"], source=str(directory / CONFIG_NAME))
        return cls(**parts, config=config).eval()
