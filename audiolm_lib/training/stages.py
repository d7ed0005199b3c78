"""The stage registry: what the trainer, ``audiolm train``, the recipes and ``checkpoints/make_checkpoints.py`` know
about each kind of language-model stage, in one place.

A :class:`StageKind` names the model and config classes, the batch a training step feeds the model's ``forward``
(:attr:`StageKind.batch_keys`), the paper's crop length, how the token cache fills the model config, and how a
preview sample is drawn during training. :data:`ACOUSTIC_GENERATORS` says which stages make up each acoustic
generator, and :func:`assemble_audiolm` builds an ``AudioLM`` from trained stages.

Adding a stage kind: its model module under ``audiolm_lib/lm/`` (a model with ``forward(**batch) -> loss`` and
``save_pretrained``) plus one entry in :data:`STAGE_KINDS` here. ``audiolm train <kind>``, the trainer, the
crops (:mod:`audiolm_lib.training.data`) and the recipes pick it up from the registry.

Batch keys (``LongTensor``; the same stretch of time for every key of one item):

- ``semantic``: ``[B, S]`` semantic ids;
- ``coarse``: ``[B, Qc, F]`` RVQ levels ``1..Qc``; ``fine``: ``[B, Qf, F]`` levels ``Qc+1..Qc+Qf``;
- ``codes``: ``[B, Qc + Qf, F]`` every level the model fills.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover - torch is imported when a stage is built, not when the CLI starts
    from torch import Tensor, nn

ACOUSTIC_KEYS = ("coarse", "fine", "codes")


def _semantic_preview(model, batch: dict[str, Tensor], count: int, generator) -> tuple[Tensor, Tensor, Tensor]:
    tokens = batch["semantic"]
    half = max(1, tokens.shape[-1] // 2)
    prompt, reference = tokens[:, :half], tokens[:, half : half + count]
    return prompt, reference, model.generate(prompt, count, temperature=1.0, generator=generator)


def _conditioned_preview(condition: str, target: str, frames_argument: bool):
    """Continue the second half of ``batch[target]`` given ``batch[condition]`` (all of it) and the first half."""

    def preview(model, batch: dict[str, Tensor], count: int, generator) -> tuple[Tensor, Tensor, Tensor]:
        tokens = batch[target]
        half = max(1, tokens.shape[-1] // 2)
        prompt, reference = tokens[..., :half], tokens[..., half:]
        extra = (tokens.shape[-1] - half,) if frames_argument else ()
        generated = model.generate(batch[condition], prompt, *extra, temperature=1.0, generator=generator)
        if generated.dim() == 3:  # a model that makes only the leading levels: compare those
            reference = reference[:, : generated.shape[1]]
        return prompt, reference, generated

    return preview


def _fine_levels(data: dict, config_cls: type, cache: Any) -> None:
    """The fine stage models every level above the coarse ones (paper: 12 = 4 + 8)."""
    coarse_levels = int(data.get("num_coarse_quantizers", config_cls().num_coarse_quantizers))
    if int(cache.num_quantizers) > coarse_levels:
        data.setdefault("num_fine_quantizers", int(cache.num_quantizers) - coarse_levels)


def _all_levels(data: dict, config_cls: type, cache: Any) -> None:
    data.setdefault("num_quantizers", int(cache.num_quantizers))  # SoundStorm fills every level


@dataclass(frozen=True)
class StageKind:
    """One kind of stage.

    Attributes:
        name: the stage's name (``audiolm train <name>``, ``StageTrainConfig.stage``).
        model / config: ``"module:Class"`` of the model and of its config dataclass (imported on use).
        batch_keys: the batch a training step passes to ``model(**batch)`` (the module docstring's keys).
        crop_seconds: the paper's training crop, used when a run sets none.
        summary: one line for ``audiolm train <name> --help``.
        semantic_vocab_field: the model-config field holding the semantic vocabulary (None: no semantic input).
        levels_from_cache: fills the RVQ level counts from a token cache ``(data, config_cls, cache)``.
        preview: ``(model, batch, semantic tokens to draw, generator) -> (prompt, reference, generated)``.
        prompt_elsewhere: takes prompts from another segment of the item (:mod:`audiolm_lib.training.prompt_crops`;
            the batch then also holds ``prompt_frames``).
    """

    name: str
    model: str
    config: str
    batch_keys: tuple[str, ...]
    crop_seconds: float
    summary: str
    semantic_vocab_field: str | None = "semantic_vocab_size"
    levels_from_cache: Callable[[dict, type, Any], None] | None = None
    preview: Callable[..., tuple["Tensor", "Tensor", "Tensor"]] = field(default=_semantic_preview, repr=False)
    prompt_elsewhere: bool = False

    @property
    def uses_codec(self) -> bool:
        """Whether it trains on codec tokens (a semantic-only stage goes with any codec)."""
        return any(key in ACOUSTIC_KEYS for key in self.batch_keys)

    def classes(self) -> tuple[type["nn.Module"], type]:
        """``(model class, config class)``."""
        return _import(self.model), _import(self.config)


def _import(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


# AudioLM (Borsos et al. 2022, sec. 5): crops of 30 s (semantic), 10 s (coarse), 3 s (fine); SoundStorm (Borsos et
# al. 2023): 30 s for the parallel acoustic model
STAGE_KINDS: dict[str, StageKind] = {kind.name: kind for kind in (
    StageKind("semantic", "audiolm_lib.lm.stages:SemanticLM", "audiolm_lib.lm.stages:SemanticLMConfig",
              ("semantic",), 30.0, "Train the semantic stage (semantic tokens, 30 s crops by default) on a token cache.",
              semantic_vocab_field="vocab_size"),
    StageKind("coarse", "audiolm_lib.lm.stages:CoarseLM", "audiolm_lib.lm.stages:CoarseLMConfig",
              ("semantic", "coarse"), 10.0,
              "Train the coarse stage (RVQ levels 1-4 given semantic tokens, 10 s crops) on a token cache.",
              preview=_conditioned_preview("semantic", "coarse", frames_argument=True)),
    StageKind("fine", "audiolm_lib.lm.stages:FineLM", "audiolm_lib.lm.stages:FineLMConfig",
              ("coarse", "fine"), 3.0, "Train the fine stage (RVQ levels 5-12 given levels 1-4, 3 s crops) on a token "
              "cache.", semantic_vocab_field=None, levels_from_cache=_fine_levels,
              preview=_conditioned_preview("coarse", "fine", frames_argument=False)),
    StageKind("parallel", "audiolm_lib.lm.parallel:ParallelAcousticLM",
              "audiolm_lib.lm.parallel:ParallelAcousticLMConfig", ("semantic", "codes"), 30.0,
              "Train the parallel acoustic model (every RVQ level given semantic tokens, masked decoding as in "
              "SoundStorm; what ships; 30 s crops) on a token cache.", levels_from_cache=_all_levels,
              preview=_conditioned_preview("semantic", "codes", frames_argument=True), prompt_elsewhere=True),
)}
STAGES = tuple(STAGE_KINDS)

# acoustic generator -> the stages it is made of (AudioLM's ``acoustic=`` or ``coarse_lm`` + ``fine_lm``)
ACOUSTIC_GENERATORS = {"parallel": ("parallel",), "hierarchical": ("coarse", "fine")}


def stage_kind(name: str) -> StageKind:
    """The registered :class:`StageKind` called ``name`` (a clear error naming the known ones otherwise)."""
    if name not in STAGE_KINDS:
        raise ValueError(f"unknown stage {name!r}; expected one of {STAGES}")
    return STAGE_KINDS[name]


def check_prompt_elsewhere(stage: str, share: float, same_speaker: float = 0.0) -> None:
    """The shares of prompts from elsewhere in the item (``share``) and from another item of the same speaker
    (``same_speaker``) are in [0, 1], sum to at most 1, and are nonzero only for a stage that takes them."""
    takers = " / ".join(name for name, kind in STAGE_KINDS.items() if kind.prompt_elsewhere)
    for name, value in (("prompt_elsewhere", share), ("prompt_same_speaker", same_speaker)):
        if not 0.0 <= value <= 1.0 or (value and not stage_kind(stage).prompt_elsewhere):
            raise ValueError(f"{name} must be in [0, 1] and is for the {takers} stage only, got {value} for the "
                             f"{stage} stage")
    if share + same_speaker > 1.0 + 1e-9:
        raise ValueError(f"prompt_elsewhere + prompt_same_speaker must be at most 1 (shares of one batch), got "
                         f"{share} + {same_speaker}")


def generator_stages(generator: str) -> tuple[str, ...]:
    """The stages an acoustic generator (``"parallel"`` or ``"hierarchical"``) is trained as."""
    if generator not in ACOUSTIC_GENERATORS:
        raise ValueError(f"unknown acoustic generator {generator!r}; expected one of {tuple(ACOUSTIC_GENERATORS)}")
    return ACOUSTIC_GENERATORS[generator]


def assemble_audiolm(tokenizer, codec, stages: dict[str, nn.Module]):
    """An ``AudioLM`` from a tokenizer, a codec and trained stages ``{"semantic": ..., "parallel": ...}`` (or
    ``"coarse"`` + ``"fine"``)."""
    from audiolm_lib.pipeline import AudioLM

    if "parallel" in stages:
        return AudioLM(tokenizer, codec, stages["semantic"], acoustic=stages["parallel"])
    return AudioLM(tokenizer, codec, stages["semantic"], stages["coarse"], stages["fine"])
