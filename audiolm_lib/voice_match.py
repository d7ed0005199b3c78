"""Voice matching: render a continuation from the prompt's own codec frames (kNN-VC on the codec latents).

kNN-VC (Baas, van Niekerk & Kamper, "Voice Conversion With Just Nearest Neighbors", Interspeech 2023) converts a
voice by replacing each frame of the source's features with its nearest frames among the target speaker's. Here
the source is the acoustic generator's continuation, the target is the prompt, and the features are the codec's
quantized latents (the sum of a frame's RVQ code vectors): each generated frame's codes become those of the prompt
frame whose latent is nearest in cosine. With one neighbour the result is again a code sequence the codec decodes,
so nothing downstream changes (decoding, streaming, returned tokens), and as each frame is matched alone the step is
causal: a stream matches chunk by chunk what ``continue_audio`` matches at once.

Why: the generator keeps less of the prompt's voice than the codec does (the oracle ladder's rung c against its
resynthesis, issue 20); frames taken from the prompt carry its voice and its voicing. The price is the inventory: a
continuation can only use sounds the prompt holds (a 3 s prompt has ~150 frames), so words blur; it is for keeping
a voice, not for piano (a note the prompt never played cannot be found in it). Off by default
(``AudioLMConfig.voice_match``); a checkpoint turns it on where validation chose it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def code_latents(codec, codes: torch.Tensor) -> torch.Tensor:
    """``LongTensor[B, L, F]`` (the leading ``L`` levels) -> ``Tensor[B, D, F]``: the codec's quantized latents."""
    quantizer = getattr(codec, "quantizer", None)
    if quantizer is None or not callable(getattr(quantizer, "decode", None)):
        raise ValueError(f"voice matching needs a codec with a residual quantizer (codec.quantizer.decode); "
                          f"{type(codec).__name__} has none: turn voice_match off")
    return quantizer.decode(codes).float()


class PromptFrameMatcher:
    """Matches generated frames to one prompt's frames, chunk after chunk (a stream hands them over as they come).

    Args:
        codec: the codec whose codes these are.
        prompt: ``LongTensor[B, L', F0]`` the prompt's codes.
        continuity: a bonus added to the cosine of the prompt frame that follows the one chosen for the previous
            frame (0: each frame alone). Cosines of the nearest frames lie within ~0.01 of each other, so one
            neighbour alone jumps about the prompt every 20 ms; a bonus of a few hundredths keeps runs of the
            prompt's own successive frames (unit selection's join cost, Hunt & Black 1996, decided greedily so
            that the step stays causal). The chosen frame is carried from one chunk to the next.
    """

    def __init__(self, codec, prompt: torch.Tensor, continuity: float = 0.0):
        if prompt.dim() != 3:
            raise ValueError(f"prompt codes must be [B, levels, frames], got {tuple(prompt.shape)}")
        if prompt.shape[-1] == 0:
            raise ValueError("voice matching needs at least one prompt frame")
        if not continuity >= 0:
            raise ValueError(f"continuity must be >= 0, got {continuity}")
        self.codec, self.prompt, self.continuity = codec, prompt, float(continuity)
        self.previous: torch.Tensor | None = None  # LongTensor[B]: the prompt frame chosen last
        self._keys: dict[int, torch.Tensor] = {}  # per number of levels: Tensor[B, D, F0] unit latents

    @torch.inference_mode()
    def __call__(self, generated: torch.Tensor) -> torch.Tensor:
        """``LongTensor[B, L, F]`` -> ``LongTensor[B, L, F]``: for every frame, all ``L`` codes of one prompt
        frame (the prompt's leading ``L`` levels)."""
        if generated.dim() != 3:
            raise ValueError(f"codes must be [B, levels, frames], got {tuple(generated.shape)}")
        batch, levels, frames = generated.shape
        if self.prompt.shape[0] != batch or self.prompt.shape[1] < levels:
            raise ValueError(f"prompt codes {tuple(self.prompt.shape)} do not fit generated codes "
                             f"{tuple(generated.shape)}")
        if frames == 0:
            return generated
        keys = self.prompt[:, :levels]
        if levels not in self._keys:
            self._keys[levels] = F.normalize(code_latents(self.codec, keys), dim=1)
        query = F.normalize(code_latents(self.codec, generated), dim=1)  # [B, D, F]
        cosines = torch.einsum("bdf,bdk->bfk", query, self._keys[levels].to(query.device))  # [B, F, F0]
        if self.continuity == 0:
            chosen = cosines.argmax(dim=-1)  # [B, F]
        else:
            chosen = torch.empty(batch, frames, dtype=torch.long, device=cosines.device)
            rows, count = torch.arange(batch, device=cosines.device), cosines.shape[-1]
            previous = self.previous
            for frame in range(frames):
                scores = cosines[:, frame]
                if previous is not None:
                    successor = previous + 1
                    follows = successor < count
                    scores = scores.clone()
                    scores[rows[follows], successor[follows]] += self.continuity
                previous = chosen[:, frame] = scores.argmax(dim=-1)
        self.previous = chosen[:, -1]
        return torch.gather(keys, 2, chosen[:, None, :].expand(batch, levels, frames).to(keys.device))


def match_to_prompt(codec, generated: torch.Tensor, prompt: torch.Tensor, continuity: float = 0.0) -> torch.Tensor:
    """Each generated frame replaced by the nearest prompt frame (cosine of the codec latents).

    Args:
        codec: the codec whose codes these are.
        generated: ``LongTensor[B, L, F]`` continuation codes.
        prompt: ``LongTensor[B, L', F0]`` the prompt's codes (``L' >= L``; its leading ``L`` levels are used).
        continuity: see :class:`PromptFrameMatcher`.

    Returns:
        ``LongTensor[B, L, F]``: for every frame, all ``L`` codes of one prompt frame.
    """
    return PromptFrameMatcher(codec, prompt, continuity)(generated)
