"""Int8 dynamic quantisation of a model's ``nn.Linear`` layers for CPU inference (fbgemm / qnnpack).

Weights are stored as int8 (4x fewer bytes to read per pass); activations are quantised on the fly per call.
What it buys depends on the call shape (see BENCHMARKS.md, "int8"): a decoding step multiplies one row by each
weight matrix, so it is bound by weight bytes and per-call overhead; a parallel pass multiplies hundreds of rows.
Embeddings and output heads (parameters used through ``F.linear``) stay float32. Quantised models are for
inference only (no training, no ``save_pretrained`` round trip: quantise after loading).
"""
from __future__ import annotations

import warnings

import torch
from torch import nn


def quantize_linear_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` replaced by a dynamically quantised int8 one (eval mode)."""
    engines = torch.backends.quantized.supported_engines
    engine = "fbgemm" if "fbgemm" in engines else ("x86" if "x86" in engines else "qnnpack")
    if engine not in engines:
        raise RuntimeError(f"this torch build has no int8 CPU engine (supported: {engines})")
    torch.backends.quantized.engine = engine
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao (not installed)
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(model.eval(), {nn.Linear}, dtype=torch.qint8, inplace=False)
    return quantized.eval()


def is_quantized(module: nn.Module) -> bool:
    """Whether ``module`` holds dynamically quantised Linear layers."""
    return any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in module.modules())
