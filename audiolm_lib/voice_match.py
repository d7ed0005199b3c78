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


@torch.inference_mode()
def match_to_prompt(codec, generated: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
    """Each generated frame replaced by the nearest prompt frame (cosine of the codec latents).

    Args:
        codec: the codec whose codes these are.
        generated: ``LongTensor[B, L, F]`` continuation codes.
        prompt: ``LongTensor[B, L', F0]`` the prompt's codes (``L' >= L``; its leading ``L`` levels are used).

    Returns:
        ``LongTensor[B, L, F]``: for every frame, all ``L`` codes of one prompt frame.
    """
    if generated.dim() != 3 or prompt.dim() != 3:
        raise ValueError(f"codes must be [B, levels, frames], got {tuple(generated.shape)} and {tuple(prompt.shape)}")
    batch, levels, frames = generated.shape
    if prompt.shape[0] != batch or prompt.shape[1] < levels:
        raise ValueError(f"prompt codes {tuple(prompt.shape)} do not fit generated codes {tuple(generated.shape)}")
    if prompt.shape[-1] == 0:
        raise ValueError("voice matching needs at least one prompt frame")
    if frames == 0:
        return generated
    keys = prompt[:, :levels]
    query_latents = F.normalize(code_latents(codec, generated), dim=1)  # [B, D, F]
    key_latents = F.normalize(code_latents(codec, keys), dim=1)  # [B, D, F0]
    nearest = torch.einsum("bdf,bdk->bfk", query_latents, key_latents).argmax(dim=-1)  # [B, F]
    return torch.gather(keys, 2, nearest[:, None, :].expand(batch, levels, frames).to(keys.device))
