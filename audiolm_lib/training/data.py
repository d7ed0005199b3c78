"""Random crops of cached tokens for the stages, drawn by a seeded, resumable, DDP-aware sampler.

Works on anything with the ``TokenCache`` interface: ``len(cache)``, ``cache[i] -> {"semantic": LongTensor[S],
"acoustic": LongTensor[Q, F], ...}``, ``cache.lengths()`` (acoustic frames per item) and the attributes
``semantic_rate`` / ``acoustic_rate`` (tokens per second).

Batches per stage: the keys of its :attr:`~audiolm_lib.training.stages.StageKind.batch_keys` (names match the
stage models' ``forward`` arguments), e.g. ``{"semantic": LongTensor[B, S], "coarse": LongTensor[B, Qc, F]}`` for
the coarse stage (the same stretch of time), ``{"semantic": [B, S], "codes": [B, Q, F]}`` for the parallel model.
The parallel stage's batch also holds ``"prompt_frames": LongTensor[B]`` when ``CropSpec.prompt_elsewhere > 0``
(:mod:`audiolm_lib.training.prompt_crops`: prompts from another segment of the same item).

Short items: items shorter than ``min_seconds`` are skipped; a batch is cropped to the configured length or to
the shortest item in it, whichever is shorter. Nothing is padded, so the models need no padding mask and every
token of a batch is real.

Resuming: the whole stream is a pure function of ``(seed, rank, number of items drawn)``. Epoch ``e`` shuffles
the items with seed ``(seed, e)``; rank ``r`` of ``W`` takes every ``W``-th position; the crop offset of the
``n``-th item a rank draws comes from a generator seeded by ``(seed, rank, n)``. So ``state_dict()`` is a single
counter, identical on every rank, and a resumed run sees exactly the batches an uninterrupted one would have.
"""
from __future__ import annotations

from typing import Any, Iterator, Protocol

import torch

from audiolm_lib.training.crops import CropSpec, _item_seconds, _stack, crop_item  # noqa: F401  (re-exported)
from audiolm_lib.training.prompt_crops import replace_prompts
from audiolm_lib.training.stages import STAGE_KINDS, STAGES  # noqa: F401  (STAGES re-exported)

PAPER_CROP_SECONDS = {name: kind.crop_seconds for name, kind in STAGE_KINDS.items()}


class TokenSource(Protocol):
    semantic_rate: float
    acoustic_rate: float

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any]: ...

    def lengths(self) -> list[int]: ...


def _mix(*values: int) -> int:
    """A well-spread 63-bit seed from a few integers (splitmix64 style)."""
    x = 0x9E3779B97F4A7C15
    for v in values:
        x = (x ^ (int(v) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    return x & 0x7FFFFFFFFFFFFFFF


class StageBatches:
    """Endless batches of random crops for one stage; rank ``r`` of ``W`` sees its own share of items.

    Args:
        cache: a ``TokenCache`` (or anything with its interface).
        spec: the stage's crop description.
        batch_size: items per batch (per rank).
        seed: data seed; the same seed gives the same stream.
        rank / world_size: the DDP position of this process.
        indices: the cache items to draw from (default: all); items shorter than ``spec.min_seconds`` are dropped.
    """

    def __init__(
        self,
        cache: TokenSource,
        spec: CropSpec,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        indices: list[int] | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.cache = cache
        self.spec = spec
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.items = eligible_items(cache, spec, indices)
        prompt_pool: list[int] = []
        if spec.prompt_only_tag:  # items that are only ever another item's same-speaker prompt
            ids = item_fields(cache, self.items, "id", "ids")
            prompt_pool = [i for i in self.items if spec.prompt_only_tag in str(ids[i] or "")]
            self.items = [i for i in self.items if spec.prompt_only_tag not in str(ids[i] or "")]
            if not self.items:
                raise ValueError(f"every usable item's id holds prompt_only_tag {spec.prompt_only_tag!r}: "
                                 "nothing is left to train on")
        self.drawn = 0  # items drawn so far by this rank (the same count on every rank)
        self._order: tuple[int, torch.Tensor] | None = None  # (epoch, permutation) of the current epoch
        self._speaker_items: dict[str, list[int]] = {}  # speaker -> usable items (prompt_same_speaker only)
        self._speaker_of: dict[int, str] = {}
        if spec.prompt_same_speaker:
            self._speaker_items = items_by_speaker(cache, sorted(self.items + prompt_pool))
            self._speaker_of = {i: speaker for speaker, items in self._speaker_items.items() for i in items}
            if not any(len(items) > 1 for items in self._speaker_items.values()):
                raise ValueError("prompt_same_speaker needs a speaker with two or more usable items; the token "
                                 "cache names no such speaker (items without a 'speaker' field count as none)")

    # ------------------------------------------------------------------ resumable position
    def state_dict(self) -> dict[str, int]:
        return {"drawn": self.drawn, "seed": self.seed, "num_items": len(self.items)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state.get("num_items", len(self.items)) != len(self.items):
            raise ValueError(
                f"cannot resume the data order: the checkpoint saw {state['num_items']} usable items, "
                f"this token cache has {len(self.items)}"
            )
        self.drawn = int(state["drawn"])

    # ------------------------------------------------------------------ sampling
    def _item_index(self, n: int) -> int:
        """Cache index of the ``n``-th item this rank draws."""
        global_position = n * self.world_size + self.rank
        epoch, position = divmod(global_position, len(self.items))
        if self._order is None or self._order[0] != epoch:
            generator = torch.Generator().manual_seed(_mix(self.seed, epoch))
            self._order = (epoch, torch.randperm(len(self.items), generator=generator))
        return self.items[int(self._order[1][position])]

    def next_batch(self) -> dict[str, torch.Tensor]:
        """The next batch of random crops (shapes in the module docstring)."""
        numbers = range(self.drawn, self.drawn + self.batch_size)
        self.drawn += self.batch_size
        chosen = [self._item_index(n) for n in numbers]
        loaded = [self.cache[i] for i in chosen]
        seconds = min([self.spec.seconds] + [_item_seconds(item, self.spec) for item in loaded])
        crops = []
        for n, item in zip(numbers, loaded):
            generator = torch.Generator().manual_seed(_mix(self.seed, self.rank, n, 1))
            fraction = float(torch.rand((), generator=generator))
            crops.append(crop_item(item, self.spec, seconds, fraction))
        if self.spec.prompt_elsewhere or self.spec.prompt_same_speaker:
            return replace_prompts(crops, loaded, numbers, self.spec, seconds,
                                   lambda n: _mix(self.seed, self.rank, n, 2),
                                   lambda k, generator: self._partner(chosen[k], generator))
        return _stack(crops)

    def _partner(self, index: int, generator: torch.Generator) -> dict[str, Any] | None:
        """Another usable item of item ``index``'s speaker, drawn with ``generator``; ``None`` if it has none."""
        others = [i for i in self._speaker_items.get(self._speaker_of.get(index, ""), []) if i != index]
        if not others:
            return None
        return self.cache[others[int(torch.randint(len(others), (), generator=generator))]]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        while True:
            yield self.next_batch()


def item_fields(cache: TokenSource, items: list[int], field: str, listing: str) -> dict[int, object]:
    """``{item index: its field}`` over ``items``: from ``cache.<listing>()`` where the cache has it (its index: no
    item is loaded), else from each item asked about (``None`` where it has no such field)."""
    if hasattr(cache, listing):
        listed = getattr(cache, listing)()
        return {i: listed[i] for i in items}
    return {i: cache[i].get(field) for i in items}


def items_by_speaker(cache: TokenSource, items: list[int]) -> dict[str, list[int]]:
    """``{speaker: [item index, ...]}`` over ``items`` (:func:`item_fields`); items without a speaker are left
    out."""
    speakers = item_fields(cache, items, "speaker", "speakers")
    grouped: dict[str, list[int]] = {}
    for i in items:
        if speakers[i]:
            grouped.setdefault(str(speakers[i]), []).append(i)
    return grouped


def eligible_items(cache: TokenSource, spec: CropSpec, indices: list[int] | None = None) -> list[int]:
    """Indices of items at least ``spec.min_seconds`` long (by ``cache.lengths()``, acoustic frames)."""
    lengths = list(cache.lengths())
    chosen = range(len(lengths)) if indices is None else indices
    min_frames = spec.min_seconds * spec.acoustic_rate
    items = [int(i) for i in chosen if lengths[i] >= min_frames]
    if not items:
        longest = max((lengths[i] for i in chosen), default=0) / spec.acoustic_rate
        raise ValueError(
            f"no item of the token cache is at least {spec.min_seconds} s long (longest: {longest:.2f} s); "
            "lower min_seconds or add longer audio"
        )
    return items


def validation_batches(
    cache: TokenSource, spec: CropSpec, batch_size: int, max_batches: int, indices: list[int] | None = None
) -> list[dict[str, torch.Tensor]]:
    """Deterministic validation batches: the first ``max_batches * batch_size`` items, cropped from their start."""
    items = eligible_items(cache, spec, indices)[: max_batches * batch_size]
    batches = []
    for begin in range(0, len(items), batch_size):
        loaded = [cache[i] for i in items[begin : begin + batch_size]]
        seconds = min([spec.seconds] + [_item_seconds(item, spec) for item in loaded])
        batches.append(_stack([crop_item(item, spec, seconds, 0.0) for item in loaded]))
    return batches


class InMemoryTokenCache:
    """A ``TokenCache`` look-alike over tokens already in memory (tests, benchmarks, notebooks).

    Args:
        items: dicts with ``semantic: LongTensor[S]`` and ``acoustic: LongTensor[Q, F]`` (``split`` optional).
        semantic_rate / acoustic_rate: tokens per second.
        codebook_size / semantic_vocab_size: vocabulary sizes of the two streams.
    """

    def __init__(self, items: list[dict[str, Any]], semantic_rate: float = 50.0, acoustic_rate: float = 50.0,
                 codebook_size: int = 1024, semantic_vocab_size: int = 500):
        if not items:
            raise ValueError("InMemoryTokenCache needs at least one item")
        self.items = [dict(item, split=item.get("split", "train"), id=item.get("id", str(i))) for i, item in enumerate(items)]
        self.semantic_rate = semantic_rate
        self.acoustic_rate = acoustic_rate
        self.codebook_size = codebook_size
        self.semantic_vocab_size = semantic_vocab_size
        self.num_quantizers = int(self.items[0]["acoustic"].shape[0])

    @classmethod
    def random(cls, num_items: int, seconds: float | list[float], num_quantizers: int = 12, seed: int = 0,
               valid_items: int = 0, **kwargs: Any) -> "InMemoryTokenCache":
        """Random token ids; the last ``valid_items`` items get split "valid"."""
        generator = torch.Generator().manual_seed(seed)
        durations = seconds if isinstance(seconds, list) else [seconds] * num_items
        cache = cls.__new__(cls)
        semantic_rate, acoustic_rate = kwargs.get("semantic_rate", 50.0), kwargs.get("acoustic_rate", 50.0)
        vocab, codebook = kwargs.get("semantic_vocab_size", 500), kwargs.get("codebook_size", 1024)
        items = []
        for i, duration in enumerate(durations):
            items.append({
                "semantic": torch.randint(vocab, (int(duration * semantic_rate),), generator=generator),
                "acoustic": torch.randint(codebook, (num_quantizers, int(duration * acoustic_rate)), generator=generator),
                "split": "valid" if i >= len(durations) - valid_items else "train",
                "speaker": f"spk{i % 3}", "text": "",
            })
        cache.__init__(items, **kwargs)
        return cache

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]

    def lengths(self) -> list[int]:
        return [int(item["acoustic"].shape[-1]) for item in self.items]

    def indices(self, split: str | None = None) -> list[int]:
        """Positions of the items of ``split`` (all items for ``None``)."""
        return [k for k, item in enumerate(self.items) if split is None or item["split"] == split]

    def speakers(self) -> list[str | None]:
        """Each item's ``speaker`` (``None`` where it names none)."""
        return [item.get("speaker") for item in self.items]
