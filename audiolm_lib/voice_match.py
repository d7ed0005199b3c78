"""Voice matching: render a continuation from the prompt's own codec frames (kNN-VC on the codec latents).

kNN-VC (Baas, van Niekerk & Kamper, "Voice Conversion With Just Nearest Neighbors", Interspeech 2023) converts a
voice by replacing each frame of the source's features with the mean of its ``k`` nearest frames among the target
speaker's. Here the source is the acoustic generator's continuation, the target is the prompt, and the features are
the codec's quantized latents (the sum of a frame's RVQ code vectors). With one neighbour each generated frame's
codes become those of the nearest prompt frame; with more, the mean of their latents is quantized again by the
codec's own RVQ. Either way the result is a code sequence the codec decodes, so nothing downstream changes
(decoding, streaming, returned tokens), and as each frame is matched in order the step is causal: a stream matches
chunk by chunk what ``continue_audio`` matches at once.

Why: the generator keeps less of the prompt's voice than the codec does (the oracle ladder's rung c against its
resynthesis, issue 20); frames taken from the prompt carry its voice and its voicing. The price is the inventory: a
continuation can only use sounds the prompt holds (a 3 s prompt has ~150 frames), so words blur; it is for keeping
a voice, not for piano (a note the prompt never played cannot be found in it). Off by default
(``AudioLMConfig.voice_match``), on in ``checkpoints/speech`` at strength 0.75; measured in BENCHMARKS.md (issue 20,
eleventh and twenty-third passes).

:class:`PromptStatisticsMatcher` is the other method (``AudioLMConfig.voice_match_method = "statistics"``): it
copies no frame, it gives every generated frame's latent the prompt's per-dimension mean and spread, so the sound
has no joins (issue 20, twelfth pass).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def code_latents(codec, codes: torch.Tensor) -> torch.Tensor:
    """``LongTensor[B, L, F]`` (the leading ``L`` levels) -> ``Tensor[B, D, F]``: the codec's quantized latents."""
    quantizer = getattr(codec, "quantizer", None)
    if quantizer is None or not callable(getattr(quantizer, "decode", None)):
        raise ValueError("voice matching needs a codec with a residual quantizer (codec.quantizer.decode); "
                          f"{type(codec).__name__} has none: turn voice_match off")
    return quantizer.decode(codes).float()


def mean_of_frames(latents: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """``latents`` ``Tensor[B, D, F0]``, ``chosen`` ``LongTensor[B, F, k]`` (frame indices into ``F0``) ->
    ``Tensor[B, D, F]``: for every frame the mean of its ``k`` chosen latents (kNN-VC's average of the neighbours)."""
    frames = chosen.shape[1]
    picked = torch.gather(latents[:, :, None, :].expand(-1, -1, frames, -1), 3,
                          chosen[:, None].expand(-1, latents.shape[1], -1, -1).to(latents.device))  # [B, D, F, k]
    return picked.mean(dim=-1)


def check_fits(prompt: torch.Tensor, generated: torch.Tensor) -> tuple[int, int, int]:
    """``(B, L, F)`` of ``generated`` ``LongTensor[B, L, F]`` if the prompt ``[B, L', F0]`` fits it (``L' >= L``)."""
    if generated.dim() != 3:
        raise ValueError(f"codes must be [B, levels, frames], got {tuple(generated.shape)}")
    batch, levels, frames = generated.shape
    if prompt.shape[0] != batch or prompt.shape[1] < levels:
        raise ValueError(f"prompt codes {tuple(prompt.shape)} do not fit generated codes {tuple(generated.shape)}")
    return batch, levels, frames


class PromptFrameMatcher:
    """Matches generated frames to one prompt's frames, chunk after chunk (a stream hands them over as they come).

    Args:
        codec: the codec whose codes these are.
        prompt: ``LongTensor[B, L', F0]`` the prompt's codes.
        continuity: a bonus added to the cosine of the prompt frame that follows the one chosen (first) for the
            previous frame (0: each frame alone). Cosines of the nearest frames lie within ~0.01 of each other, so
            one neighbour alone jumps about the prompt every 20 ms; a bonus of a few hundredths keeps runs of the
            prompt's own successive frames (unit selection's join cost, Hunt & Black 1996, decided greedily so
            that the step stays causal). The choice is carried from one chunk to the next.
        neighbours: ``k``: 1 takes the nearest frame's codes as they are; more averages the ``k`` nearest latents
            (kNN-VC uses 4: a smoother rendering) and quantizes the mean with the codec's RVQ.
        strength: how far each frame's latent moves from the generated one to the matched one (1: all the way);
            below 1 the mix is quantized with the codec's RVQ.
        content: ``(table, prompt_ids, weight)`` or None: a second key for choosing, what is said. ``table``
            ``Tensor[K, C]`` holds one vector per content id (the semantic tokenizer's k-means centroids),
            ``prompt_ids`` ``LongTensor[B, F0]`` the id of every prompt frame; each call then takes the generated
            frames' ids too, and ``weight`` times the cosine of the two frames' vectors is added to the codec
            latents' cosine. kNN-VC matches in a space of what is said (WavLM features), not of the voice; the codec
            latents hold both, so their nearest prompt frames can be the ones that sound most like the generator's
            voice rather than the ones that say the same thing.
        centre: match on latents with their voice's mean taken off (the prompt's mean from the prompt frames, the
            generated frames' from a running mean begun from ``prior_frames`` pseudo-frames at the prompt's mean,
            carried from chunk to chunk): a voice's timbre sits largely in the latents' mean (see
            :class:`PromptStatisticsMatcher`), so centred latents compare what the frames say more than who says it.
            The matched frames are the prompt's own, uncentred.
        prior_frames: with ``centre``, the pseudo-count of the running mean's start.
    """

    def __init__(self, codec, prompt: torch.Tensor, continuity: float = 0.0, neighbours: int = 1,
                 strength: float = 1.0, content: tuple[torch.Tensor, torch.Tensor, float] | None = None,
                 centre: bool = False, prior_frames: int = 10):
        if prompt.dim() != 3:
            raise ValueError(f"prompt codes must be [B, levels, frames], got {tuple(prompt.shape)}")
        if prompt.shape[-1] == 0:
            raise ValueError("voice matching needs at least one prompt frame")
        if not continuity >= 0:
            raise ValueError(f"continuity must be >= 0, got {continuity}")
        if int(neighbours) != neighbours or neighbours < 1:
            raise ValueError(f"neighbours must be a whole number >= 1, got {neighbours}")
        if not 0 < strength <= 1:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        requantizes = neighbours > 1 or strength < 1
        if requantizes and not callable(getattr(getattr(codec, "quantizer", None), "encode", None)):
            raise ValueError(f"voice matching with {neighbours} neighbours at strength {strength} quantizes a mix "
                             f"again: {type(codec).__name__} has no quantizer.encode; use one neighbour at strength 1")
        self.codec, self.prompt, self.continuity, self.strength = codec, prompt, float(continuity), float(strength)
        self.content = None if content is None or not content[2] else check_content(prompt, *content)
        if int(prior_frames) != prior_frames or prior_frames < 0:
            raise ValueError(f"prior_frames must be a whole number >= 0, got {prior_frames}")
        self.centre, self.prior_frames = bool(centre), int(prior_frames)
        self._running: dict[int, tuple[float, torch.Tensor]] = {}  # per level count: frames counted, their sum
        self.neighbours = min(int(neighbours), prompt.shape[-1])
        self.previous: torch.Tensor | None = None  # LongTensor[B]: the prompt frame chosen (first) last
        self._keys: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # per level count: latents, unit latents

    @torch.inference_mode()
    def __call__(self, generated: torch.Tensor, content_ids: torch.Tensor | None = None) -> torch.Tensor:
        """``LongTensor[B, L, F]`` -> ``LongTensor[B, L, F]``: with one neighbour, for every frame all ``L`` codes
        of one prompt frame (the prompt's leading ``L`` levels). ``content_ids`` ``LongTensor[B, F]``: the generated
        frames' content ids, needed where the matcher has a content key."""
        batch, levels, frames = check_fits(self.prompt, generated)
        if frames == 0:
            return generated
        keys = self.prompt[:, :levels]
        if levels not in self._keys:
            latents = code_latents(self.codec, keys)  # [B, D, F0]
            centred = latents - latents.mean(-1, keepdim=True) if self.centre else latents
            self._keys[levels] = latents, F.normalize(centred, dim=1)
        key_latents, unit_keys = self._keys[levels]
        generated_latents = code_latents(self.codec, generated)  # [B, D, F]
        query = F.normalize(self._centred(generated_latents, key_latents, levels) if self.centre
                            else generated_latents, dim=1)
        cosines = torch.einsum("bdf,bdk->bfk", query, unit_keys.to(query.device))  # [B, F, F0]
        if self.content is not None:
            cosines = cosines + self._content_cosines(content_ids, batch, frames).to(cosines.device)
        chosen = self._choose(cosines)  # [B, F, k], the best first
        self.previous = chosen[:, -1, 0]
        if self.neighbours == 1 and self.strength == 1:
            return torch.gather(keys, 2, chosen[..., 0][:, None, :].expand(batch, levels, frames).to(keys.device))
        matched = mean_of_frames(key_latents, chosen)  # [B, D, F]
        if self.strength < 1:  # part of the way from the generated latent to the prompt's
            matched = torch.lerp(generated_latents.to(matched.device), matched, self.strength)
        return self.codec.quantizer.encode(matched, levels)

    def _centred(self, latents: torch.Tensor, key_latents: torch.Tensor, levels: int) -> torch.Tensor:
        """``latents`` ``[B, D, F]`` less the running mean of the generated frames up to each (causal)."""
        if levels not in self._running:
            self._running[levels] = (float(self.prior_frames),
                                     key_latents.double().mean(-1, keepdim=True) * self.prior_frames)
        count, total = self._running[levels]
        values = latents.double()
        totals = total.to(values.device) + values.cumsum(-1)
        counts = count + torch.arange(1, values.shape[-1] + 1, dtype=torch.float64, device=values.device)
        self._running[levels] = (float(counts[-1]), totals[..., -1:])
        return (values - totals / counts).to(latents.dtype)

    def _content_cosines(self, content_ids: torch.Tensor | None, batch: int, frames: int) -> torch.Tensor:
        """``weight * cos(content of generated frame, content of prompt frame)``, ``Tensor[B, F, F0]``."""
        if content_ids is None:
            raise ValueError("this voice matcher chooses prompt frames by their content too: give the generated "
                             "frames' content ids (content_ids)")
        if tuple(content_ids.shape) != (batch, frames):
            raise ValueError(f"content ids must be [B, F] = {(batch, frames)}, got {tuple(content_ids.shape)}")
        table, prompt_vectors, weight = self.content
        check_ids(content_ids, table.shape[0], "content ids")
        vectors = table[content_ids.to(table.device)]  # [B, F, C]
        return weight * torch.einsum("bfc,bkc->bfk", vectors, prompt_vectors)

    def _choose(self, cosines: torch.Tensor) -> torch.Tensor:
        """``cosines`` ``[B, F, F0]`` -> the ``k`` prompt frames of every frame, ``LongTensor[B, F, k]``; with a
        continuity bonus frame by frame, as each frame's bonus depends on the previous frame's first choice."""
        if self.continuity == 0:
            return cosines.topk(self.neighbours, dim=-1).indices
        batch, frames, count = cosines.shape
        rows, previous = torch.arange(batch, device=cosines.device), self.previous
        chosen = torch.empty(batch, frames, self.neighbours, dtype=torch.long, device=cosines.device)
        for frame in range(frames):
            scores = cosines[:, frame]
            if previous is not None:
                successor = previous + 1
                follows = successor < count
                scores = scores.clone()
                scores[rows[follows], successor[follows]] += self.continuity
            chosen[:, frame] = scores.topk(self.neighbours, dim=-1).indices
            previous = chosen[:, frame, 0]
        return chosen


def check_ids(ids: torch.Tensor, count: int, name: str) -> None:
    """``ids`` all in ``[0, count)``, else a ValueError naming them and the range they took."""
    if ids.numel() and (ids.min() < 0 or ids.max() >= count):
        raise ValueError(f"{name} must lie in [0, {count}), got {int(ids.min())}..{int(ids.max())}")


def check_content(prompt: torch.Tensor, table: torch.Tensor, prompt_ids: torch.Tensor, weight: float) -> tuple:
    """A frame matcher's content key checked: ``(unit table Tensor[K, C], unit prompt vectors Tensor[B, F0, C],
    weight)``."""
    if not (weight == weight and 0 <= weight < float("inf")):
        raise ValueError(f"the content weight must be a finite number >= 0, got {weight}")
    if table.dim() != 2:
        raise ValueError(f"the content table must be [ids, dim], got {tuple(table.shape)}")
    if tuple(prompt_ids.shape) != (prompt.shape[0], prompt.shape[-1]):
        raise ValueError(f"the prompt's content ids must be [B, F0] = {(prompt.shape[0], prompt.shape[-1])}, "
                         f"got {tuple(prompt_ids.shape)}")
    check_ids(prompt_ids, table.shape[0], "the prompt's content ids")
    unit = F.normalize(table.float(), dim=-1)
    return unit, unit[prompt_ids.to(unit.device)], float(weight)


class PromptStatisticsMatcher:
    """Moves generated frames toward the prompt's voice by its latent statistics, chunk after chunk.

    Each dimension of a generated frame's codec latent is standardised by the generated frames' mean and standard
    deviation and given the prompt's (AdaIN, Huang & Belongie 2017; its use for voice conversion: Chou et al. 2019),
    then quantized again by the codec's RVQ. A voice's timbre sits largely in those first two moments, while what
    is said sits in how the frames move; and as every frame keeps its own place (nothing is copied from the prompt,
    unlike :class:`PromptFrameMatcher`) the sound has no joins. On validation voices a stranger's real speech came
    closer to the prompt's voice this way (speaker similarity 0.58 -> 0.65, recorded) than by the four nearest
    frames (0.61), at less cost in DNSMOS (2.39 -> 2.10 against 1.76); the generator's mostly unvoiced
    continuations of recorded voices did not (BENCHMARKS.md, issue 20's twelfth pass), so it is off by default.

    Causal: frame ``t`` is standardised by the statistics of the generated frames up to and including ``t``,
    begun from ``prior_frames`` pseudo-frames with the prompt's statistics (so the first frames, whose own
    statistics are still noise, move little). The sums are carried from one chunk to the next, so a stream
    matches chunk by chunk exactly what the whole continuation matches at once.

    Args:
        codec: the codec whose codes these are (it needs ``quantizer.encode`` / ``quantizer.decode``).
        prompt: ``LongTensor[B, L', F0]`` the prompt's codes.
        strength: how far each frame's latent moves from the generated one to the standardised one (1: all).
        prior_frames: the pseudo-count of the prompt-statistics prior (0: none; then the first frame is kept).
    """

    def __init__(self, codec, prompt: torch.Tensor, strength: float = 1.0, prior_frames: int = 10):
        if prompt.dim() != 3:
            raise ValueError(f"prompt codes must be [B, levels, frames], got {tuple(prompt.shape)}")
        if prompt.shape[-1] < 2:
            raise ValueError("voice matching by statistics needs at least two prompt frames (a spread), got "
                             f"{prompt.shape[-1]}: give a longer prompt, or match by frames")
        if not 0 < strength <= 1:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        if int(prior_frames) != prior_frames or prior_frames < 0:
            raise ValueError(f"prior_frames must be a whole number >= 0, got {prior_frames}")
        if not callable(getattr(getattr(codec, "quantizer", None), "encode", None)):
            raise ValueError(f"voice matching by statistics quantizes the moved latents again: "
                             f"{type(codec).__name__} has no quantizer.encode")
        self.codec, self.prompt = codec, prompt
        self.strength, self.prior_frames = float(strength), int(prior_frames)
        self._state: dict[int, tuple] = {}  # per level count: prompt mean / std, running count / sum / sum of squares

    def _start(self, levels: int) -> tuple:
        latents = code_latents(self.codec, self.prompt[:, :levels]).double()  # [B, D, F0]
        mean, std = latents.mean(-1, keepdim=True), latents.std(-1, keepdim=True)
        count = float(self.prior_frames)
        return mean, std, count, mean * count, (std.square() + mean.square()) * count

    @torch.inference_mode()
    def __call__(self, generated: torch.Tensor, content_ids: torch.Tensor | None = None) -> torch.Tensor:
        """``LongTensor[B, L, F]`` -> ``LongTensor[B, L, F]`` (``content_ids`` is not read: nothing is chosen)."""
        _, levels, frames = check_fits(self.prompt, generated)
        if frames == 0:
            return generated
        if levels not in self._state:
            self._state[levels] = self._start(levels)
        prompt_mean, prompt_std, count, total, squares = self._state[levels]
        latents = code_latents(self.codec, generated)  # [B, D, F]
        values = latents.double().to(prompt_mean.device)
        counts = count + torch.arange(1, frames + 1, dtype=torch.float64, device=values.device)  # [F]
        running_total = total + values.cumsum(-1)
        running_squares = squares + values.square().cumsum(-1)
        mean = running_total / counts
        # the first frame without a prior has no spread yet: kept as it is (its standardised value is 0 / 0)
        variance = (running_squares / counts - mean.square()).clamp_min(0.0)
        std = variance.sqrt()
        moved = torch.where(std > 1e-6, (values - mean) / std.clamp_min(1e-6) * prompt_std + prompt_mean, values)
        self._state[levels] = (prompt_mean, prompt_std, float(counts[-1]), running_total[..., -1:],
                               running_squares[..., -1:])
        moved = torch.lerp(values, moved, self.strength).to(latents.dtype).to(latents.device)
        return self.codec.quantizer.encode(moved, levels)


# AudioLMConfig.voice_match_method -> the matcher it makes from (codec, prompt codes, config, content key or None)
MATCHERS = {
    "frames": lambda codec, prompt, config, content: PromptFrameMatcher(
        codec, prompt, config.voice_match_continuity, config.voice_match_neighbours, config.voice_match_strength,
        content, config.voice_match_centre, config.voice_match_prior_frames),
    "statistics": lambda codec, prompt, config, content: PromptStatisticsMatcher(
        codec, prompt, config.voice_match_strength, config.voice_match_prior_frames),
}


def frame_ids(semantic: torch.Tensor, start: int, stop: int, ratio: float) -> torch.Tensor:
    """The semantic id under each acoustic frame ``start .. stop - 1``: ``semantic`` ``LongTensor[B, S]`` (from
    the first prompt frame on), ``ratio`` semantic ids per acoustic frame -> ``LongTensor[B, stop - start]``."""
    if semantic.dim() != 2 or semantic.shape[1] == 0:
        raise ValueError(f"semantic ids must be [B, S] with S > 0, got {tuple(semantic.shape)}")
    frames = torch.arange(start, stop, device=semantic.device, dtype=torch.float64)
    index = torch.floor(frames * ratio + 1e-6).long().clamp(0, semantic.shape[1] - 1)
    return semantic[:, index]


class InOrder:
    """A matcher handed the new frames in order, chunk after chunk, with the semantic ids from the prompt's first
    frame on (``LongTensor[B, S]``, or None): it picks out each chunk's ids (:func:`frame_ids`) itself."""

    def __init__(self, matcher, prompt_frames: int, ratio: float):
        self.matcher, self.next_frame, self.ratio = matcher, int(prompt_frames), float(ratio)

    def __call__(self, generated: torch.Tensor, semantic: torch.Tensor | None = None) -> torch.Tensor:
        start, self.next_frame = self.next_frame, self.next_frame + generated.shape[-1]
        ids = None if semantic is None else frame_ids(semantic, start, self.next_frame, self.ratio)
        return self.matcher(generated, ids)


def content_table(semantic_tokenizer) -> torch.Tensor:
    """``Tensor[K, C]``: one vector per semantic id (the tokenizer's k-means centroids), the content key of
    :class:`PromptFrameMatcher`."""
    centroids = getattr(getattr(semantic_tokenizer, "kmeans", None), "centroids", None)
    if not isinstance(centroids, torch.Tensor) or centroids.dim() != 2:
        raise ValueError(f"voice matching by content needs a semantic tokenizer with k-means centroids "
                         f"({type(semantic_tokenizer).__name__} has none): set voice_match_content_weight to 0")
    return centroids


def voice_matcher_for(codec, prompt: torch.Tensor, config, content: tuple[torch.Tensor, torch.Tensor] | None = None):
    """The matcher ``config.voice_match_method`` names (an :class:`~audiolm_lib.pipeline_config.AudioLMConfig`),
    for ``prompt`` ``LongTensor[B, L', F0]``: a callable from generated codes ``[B, L, F]`` (and their content ids
    ``[B, F]``) to matched ones. ``content``: ``(table Tensor[K, C], prompt ids LongTensor[B, F0])``, the content
    key of a frame matcher whose ``config.voice_match_content_weight`` is above 0."""
    if config.voice_match_method not in MATCHERS:
        raise ValueError(f"voice_match_method must be one of {', '.join(MATCHERS)}, got {config.voice_match_method!r}")
    weight = float(config.voice_match_content_weight)
    if weight and config.voice_match_method == "frames":
        if content is None:
            raise ValueError("voice_match_content_weight > 0 chooses prompt frames by their semantic ids too: give "
                             "the prompt's (content)")
        content = (*content, weight)
    else:
        content = None
    return MATCHERS[config.voice_match_method](codec, prompt, config, content)


def match_to_prompt(codec, generated: torch.Tensor, prompt: torch.Tensor, continuity: float = 0.0,
                    neighbours: int = 1, strength: float = 1.0) -> torch.Tensor:
    """Each generated frame replaced by the nearest prompt frame (cosine of the codec latents), or by the RVQ codes
    of the mean of its ``neighbours`` nearest.

    Args:
        codec: the codec whose codes these are.
        generated: ``LongTensor[B, L, F]`` continuation codes.
        prompt: ``LongTensor[B, L', F0]`` the prompt's codes (``L' >= L``; its leading ``L`` levels are used).
        continuity / neighbours / strength: see :class:`PromptFrameMatcher`.

    Returns:
        ``LongTensor[B, L, F]``.
    """
    return PromptFrameMatcher(codec, prompt, continuity, neighbours, strength)(generated)
