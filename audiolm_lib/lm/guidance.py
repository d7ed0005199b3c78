"""Classifier-free guidance on the prompt for the semantic stage (Sanchez et al. 2023, "Stay on topic with
classifier-free guidance"; audiocraft's ``cfg_coef``).

Each new token is drawn from ``uncond + s * (cond - uncond)``: ``cond`` are the next-token logits given the whole
window (prompt + generated tokens), ``uncond`` those given only the tokens generated after the prompt (the prompt
dropped: ``[BOS]`` + generated). ``s = 1`` is plain sampling; ``s > 1`` pushes the continuation towards what the
prompt makes likelier. No training change is needed: the stage trains on random crops that begin with ``[BOS]``
anywhere in an utterance, so "no context" is what it already models at every crop start. The two branches keep
their own KV caches; once the window has slid past the prompt they coincide and only one is run.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from audiolm_lib.lm.base import TokenLM, decode_threads, eval_mode
from audiolm_lib.lm.layouts import PAD_VALUE
from audiolm_lib.lm.prompt_prior import add_bias
from audiolm_lib.lm.sampling import sample_logits, validate_sampling, window_start


def check_guidance(scale: float) -> float:
    """``scale`` if it is a finite number >= 0, else a ValueError."""
    if not math.isfinite(scale) or scale < 0:
        raise ValueError(f"guidance_scale must be a finite number >= 0 (1: no guidance), got {scale}")
    return scale


@torch.inference_mode()
def sample_guided(lm: TokenLM, buffer: Tensor, start: int, window: int, hop: int, capacity: int, scale: float, *,
                  temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                  generator: torch.Generator | None = None, stop_at_eos: bool = False,
                  logit_bias: Tensor | None = None) -> Tensor:
    """Fill ``buffer[:, 0, start:]`` (``LongTensor[B, 1, T]``, frames ``< start`` the prompt) in place with
    guided samples; the arguments mean what they mean for :meth:`TokenLM.sample_frames`. Flat layout, one
    target level, no conditioning (the semantic stage)."""
    validate_sampling(temperature, top_k, top_p)
    if lm.layout.name != "flat" or buffer.shape[1] != 1:
        raise ValueError("classifier-free guidance is implemented for the flat one-level layout (semantic stage)")
    batch, _, total = buffer.shape
    device, dtype = buffer.device, lm.embedding.weight.dtype
    caches = [lm.transformer.new_cache(batch, capacity, device=device, dtype=dtype) for _ in range(2)]
    use_eos = lm.layout.with_eos and stop_at_eos
    weight, offset, eos_code = lm.head_weight(0, with_eos=use_eos), lm.layout.target_offsets[0], lm.layout.target_vocab
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    begin, hidden = 0, None
    with decode_threads(device), eval_mode(lm):
        for frame in range(start, total):
            new_begin = window_start(frame, begin, window, hop)
            guided = new_begin < start  # the window still holds prompt tokens
            if hidden is None or new_begin != begin:  # (re)encode both branches' windows
                begin, hidden = new_begin, []
                for cache, first in zip(caches, (begin, max(begin, start))):
                    cache.reset()
                    ids = lm.layout.sequence(None, buffer[:, :, first:frame], batch_size=batch)
                    hidden.append(lm.transformer(lm.embedding(ids), cache)[:, -1])
            logits = F.linear(hidden[0], weight).float()
            if guided:
                uncond = F.linear(hidden[1], weight).float()
                logits = uncond + scale * (logits - uncond)
            if logit_bias is not None:
                logits = add_bias(logits, logit_bias[:, 0])
            token = sample_logits(logits, temperature, top_k, top_p, generator)
            buffer[:, 0, frame] = token
            if use_eos:
                finished |= token == eos_code
                buffer[finished, 0, frame] = PAD_VALUE
                if bool(finished.all()):
                    buffer[:, :, frame + 1 :] = PAD_VALUE
                    return buffer
            if frame + 1 == total or window_start(frame + 1, begin, window, hop) != begin:
                continue  # the next frame re-encodes a new window
            embedded = lm.embedding(token + offset)
            hidden = [lm.transformer.step(embedded, cache) if guided or k == 0 else hidden[k]
                      for k, cache in enumerate(caches)]
    return buffer
