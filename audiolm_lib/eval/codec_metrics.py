"""Codec quality: SI-SDR, log-mel distance (both :mod:`audiolm_lib.measures`') and per-level codebook usage of a
residual VQ codec."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from audiolm_lib.audio import prepare_wave
from audiolm_lib.measures import mel_distance, si_sdr  # noqa: F401  (re-exported: audiolm_lib.eval.si_sdr)


def codebook_usage(codes: torch.Tensor, codebook_size: int) -> list[dict]:
    """How evenly each RVQ level uses its codebook.

    Args:
        codes: ``LongTensor[B, Q, F]`` (or ``[Q, F]``) code ids in ``[0, codebook_size)``.
        codebook_size: codes per level.

    Returns:
        One dict per level ``q``: ``perplexity`` (exp of the entropy of the code histogram; ``codebook_size``
        when uniform, 1 when one code only), ``fraction_used`` (distinct codes / ``codebook_size``),
        ``codes_used`` and ``entropy_bits``.
    """
    codes = torch.as_tensor(codes)
    if codes.ndim == 2:
        codes = codes[None]
    if codes.ndim != 3 or codes.dtype.is_floating_point:
        raise ValueError(f"expected integer codes of shape [B, Q, F] or [Q, F], got {codes.dtype} {tuple(codes.shape)}")
    if codes.numel() == 0:
        raise ValueError("codes are empty; cannot measure codebook usage")
    if codes.min() < 0 or codes.max() >= codebook_size:
        raise ValueError(f"codes must lie in [0, {codebook_size}), found values in [{codes.min().item()}, {codes.max().item()}]")
    per_level = codes.transpose(0, 1).reshape(codes.shape[1], -1)  # [Q, B * F]
    usage = []
    for level, level_codes in enumerate(per_level):
        counts = torch.bincount(level_codes, minlength=codebook_size).double()
        probs = counts[counts > 0] / counts.sum()
        entropy = max(0.0, -(probs * probs.log()).sum().item())  # no "-0" for a single code
        used = int((counts > 0).sum())
        usage.append(
            {
                "level": level,
                "perplexity": math.exp(entropy),
                "fraction_used": used / codebook_size,
                "codes_used": used,
                "entropy_bits": entropy / math.log(2),
            }
        )
    return usage


@torch.no_grad()
def codec_report(codec, waves: Sequence[torch.Tensor], sample_rate: int, num_quantizers: int | None = None,
                 measure: Callable[[torch.Tensor, torch.Tensor, int], dict] | None = None) -> dict:
    """Round-trip every wave through ``codec`` (a :class:`~audiolm_lib.interfaces.CodecProtocol`) and measure it.

    Args:
        codec: has ``encode(Tensor[B, 1, T]) -> LongTensor[B, Q, F]`` and ``decode(codes) -> Tensor[B, 1, T']``.
        waves: ``Tensor[T]`` / ``Tensor[C, T]`` waves of any lengths, at ``sample_rate``.
        sample_rate: rate of ``waves``; they are resampled to ``codec.sample_rate``.
        num_quantizers: decode with only the first this many RVQ levels (default: all).
        measure: more measures per wave: ``measure(reference: Tensor[T], resynthesis: Tensor[T], codec rate)
            -> {name: number or None}`` (e.g. the perceptual instruments and voicing).

    Returns:
        ``{"si_sdr", "mel_distance"}`` means over the waves (dB, log-mel L1), their ``*_per_wave`` lists,
        ``codebook_usage`` (see :func:`codebook_usage`, pooled over all waves), ``num_waves``, ``seconds``,
        ``num_quantizers``, ``codebook_size``; with ``measure`` also ``measures`` (means over the waves where a
        value is not ``None``) and ``measures_per_wave``.
    """
    from tqdm.auto import tqdm

    if len(waves) == 0:
        raise ValueError("codec_report needs at least one wave")
    for attribute in ("encode", "decode", "sample_rate", "hop_length", "codebook_size"):
        if not hasattr(codec, attribute):
            raise ValueError(f"codec of type {type(codec).__name__} has no {attribute!r}; it must follow CodecProtocol")
    rate = int(codec.sample_rate)
    if hasattr(codec, "eval"):
        codec.eval()
    parameters = list(codec.parameters()) if hasattr(codec, "parameters") else []
    device = parameters[0].device if parameters else torch.device("cpu")
    sdrs, distances, all_codes, seconds, extra = [], [], [], 0.0, []
    for wave in tqdm(waves, desc="codec round trip", unit="wave", disable=len(waves) < 4):
        wave = prepare_wave(wave, sample_rate, rate, min_samples=int(codec.hop_length))  # [1, 1, T]
        if wave.shape[0] != 1:
            raise ValueError(f"each item of waves must be one wave ([T] or [C, T]), got a batch of {wave.shape[0]}")
        codes = codec.encode(wave.to(device))
        if num_quantizers is not None:
            if not 1 <= num_quantizers <= codes.shape[1]:
                raise ValueError(f"num_quantizers must be in [1, {codes.shape[1]}], got {num_quantizers}")
            codes = codes[:, :num_quantizers]
        decoded = codec.decode(codes).float().cpu()
        length = min(wave.shape[-1], decoded.shape[-1])
        reference, estimate = wave[0, 0, :length], decoded[0, 0, :length]
        sdrs.append(si_sdr(reference, estimate).item())
        distances.append(mel_distance(reference, estimate, rate).item())
        if measure is not None:
            extra.append(measure(reference, estimate, rate))
        all_codes.append(codes[0].cpu())  # [Q, F]
        seconds += wave.shape[-1] / rate
    pooled = torch.cat(all_codes, dim=-1)  # [Q, sum F]
    report = {
        "si_sdr": sum(sdrs) / len(sdrs),
        "mel_distance": sum(distances) / len(distances),
        "si_sdr_per_wave": sdrs,
        "mel_distance_per_wave": distances,
        "codebook_usage": codebook_usage(pooled, int(codec.codebook_size)),
        "num_waves": len(sdrs),
        "seconds": seconds,
        "num_quantizers": int(pooled.shape[0]),
        "codebook_size": int(codec.codebook_size),
    }
    if measure is not None:
        report["measures"] = {}
        for key in dict.fromkeys(key for scores in extra for key in scores):
            values = [scores.get(key) for scores in extra if isinstance(scores.get(key), (int, float))]
            report["measures"][key] = sum(values) / len(values) if values else None
        report["measures_per_wave"] = extra
    return report
