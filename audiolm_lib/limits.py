"""Upper bounds on what a config, a file header or a command-line option may ask the library to allocate.

A ``config.json`` of a few hundred bytes can name a model width of 10^9, a ``--set`` a depth of 10^5, a token
cache header a vocabulary of 10^9: each would allocate until memory runs out. :data:`FIELD_BOUNDS` is the one
table of the ranges the library accepts, by field name, checked by :func:`check_config_bounds` when any config
dataclass is built (``serialization.config_from_dict``: checkpoint configs, ``--config``, ``--set``) and by
:func:`check_bounds` for other headers. Every float field must also be finite. :data:`MAX_PARAMETERS` bounds a
model built from a config as a whole (counted on the ``meta`` device, before any memory is allocated).
Torch-free.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Mapping

WIDTH = (1, 16_384)
DEPTH = (1, 256)
VOCAB = (1, 1 << 17)  # k-means clusters, codebooks, FSQ grids: thousands in practice
CODEBOOKS = (1, 64)
FFT = (1, 1 << 16)

# field name -> (lowest, highest) accepted value; ints and floats alike; sequences are checked item by item
FIELD_BOUNDS: dict[str, tuple[float, float]] = {
    **dict.fromkeys(("dim", "latent_dim", "upsampler_dim", "hidden_size", "feature_dim", "proj_dim", "conv_dim",
                     "channels", "stft_channels", "wave_channels", "wave_max_channels"), WIDTH),
    "intermediate_size": (1, 65_536),
    **dict.fromkeys(("depth", "encoder_depth", "decoder_depth", "upsampler_depth", "num_layers"), DEPTH),
    **dict.fromkeys(("heads", "num_heads"), (1, 256)),
    **dict.fromkeys(("vocab_size", "semantic_vocab_size", "codebook_size", "num_clusters"), VOCAB),
    **dict.fromkeys(("num_quantizers", "num_coarse_quantizers", "num_fine_quantizers", "sampled_levels",
                     "num_coarse", "num_fine"), (0, 64)),
    **dict.fromkeys(("n_fft", "win_length", "hop_length", "stft_hop", "stft_ffts", "stft_fft_sizes",
                     "mel_fft_sizes"), FFT),
    **dict.fromkeys(("n_mels", "n_mfcc", "spectral_mel_bands"), (1, 1024)),
    "strides": (1, 1024),
    "sample_rate": (1000, 384_000),
    **dict.fromkeys(("semantic_rate", "acoustic_rate"), (1e-3, 100_000)),
    "max_seq_len": (1, 1 << 20),
    **dict.fromkeys(("window_seconds", "crop_seconds", "segment_seconds", "sample_seconds", "clip_seconds",
                     "max_chunk_seconds", "min_crop_seconds", "min_seconds", "seconds"), (0, 3600)),
    **dict.fromkeys(("kmeans_iterations", "phase_iterations", "steps_per_level"), (0, 100_000)),
    **dict.fromkeys(("batch_size", "codec_batch_size"), (1, 1 << 16)),
    **dict.fromkeys(("conv_pos", "conv_pos_groups", "mask_length", "deltas", "wave_scales"), (0, 4096)),
    "ff_mult": (0, 64),
    "mlp_ratio": (0, 64),
}
MAX_PARAMETERS = 1_000_000_000  # a model built from a config (4 GB of float32); counted before allocation
MAX_SECONDS = 3600.0  # --seconds, --prompt-seconds and other lengths of audio to generate or read at once


class LimitError(ValueError):
    """A config or header value outside the range the library accepts."""


def check_bounds(values: Mapping[str, Any], source: str, bounds: Mapping[str, tuple[float, float]] = FIELD_BOUNDS
                 ) -> None:
    """Each ``values[name]`` named in ``bounds`` (a number or a sequence of numbers) must lie in its range, and
    every float must be finite; else a :class:`LimitError` naming ``source`` and the field."""
    for name, value in values.items():
        for item in _numbers(value):
            if isinstance(item, float) and not math.isfinite(item):
                raise LimitError(f"{source}: {name} must be a finite number, got {item}")
            if name in bounds:
                low, high = bounds[name]
                if not low <= item <= high:
                    raise LimitError(f"{source}: {name} = {item} is outside the accepted range [{low:g}, {high:g}]")


def check_config_bounds(config: Any, source: str) -> None:
    """:func:`check_bounds` on a config dataclass's own fields (nested configs are checked when built)."""
    if dataclasses.is_dataclass(config):
        check_bounds({f.name: getattr(config, f.name) for f in dataclasses.fields(config)}, source)


def check_length(option: str, value: float | None, *, low: float = 0.0, high: float = MAX_SECONDS,
                 unit: str = "seconds", allow_low: bool = False) -> None:
    """``value`` (if given) must be finite and in ``(low, high]`` (``[low, high]`` with ``allow_low``)."""
    if value is None:
        return
    ok = math.isfinite(value) and (value >= low if allow_low else value > low) and value <= high
    if not ok:
        kind = "a positive, finite" if low == 0 and not allow_low else f"a finite (at least {low:g})" if allow_low \
            else f"a finite (more than {low:g})"
        most = f" (at most {high:g})" if math.isfinite(high) else ""
        raise LimitError(f"{option} must be {kind} number of {unit}, got {value}{most}")


def check_model_size(parameters: int, source: str) -> None:
    if parameters > MAX_PARAMETERS:
        raise LimitError(f"{source}: the config describes a model of {parameters:,} parameters, more than the "
                         f"{MAX_PARAMETERS:,} the library builds; refusing it before allocating memory")


def _numbers(value: Any) -> Iterable[float]:
    if isinstance(value, bool):
        return ()
    if isinstance(value, (int, float)):
        return (value,)
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return ()
