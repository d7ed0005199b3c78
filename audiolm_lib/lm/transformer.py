"""A small decoder-only Transformer over embeddings, built for fast incremental decoding on a CPU.

Pre-norm blocks (LayerNorm), a fused QKV projection, rotary positions (tables precomputed once, applied
as one complex multiply), ``scaled_dot_product_attention`` and a preallocated ("static") KV cache that is
written in place, so a decoding step allocates no cache memory and attends over a view of the cache.

Why not ``x-transformers``: its cached path concatenates keys/values at every step (a growing
allocation per layer per token) and goes through several layers of generic wrappers; the stage
generators here take one token per step (a 100-frame fine window is 800 steps), so per-step Python and
allocation overhead dominates. :meth:`Transformer.step` decodes one position in ~12 kernels per layer
(one complex multiply rotates q and k, one copy writes k and v into the cache).

The Transformer knows nothing of tokens: the stage (see :mod:`audiolm_lib.lm.stages`) owns the
embedding table and output heads, and the token layout (:mod:`audiolm_lib.lm.layouts`) decides what
the sequence means.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class TransformerConfig:
    """Shape of the decoder.

    Attributes:
        dim: model width ``D``.
        depth: number of blocks.
        heads: attention heads (``dim`` must divide by ``heads``; head width must be even for rotary).
        ff_mult: feed-forward hidden width as a multiple of ``dim``.
        dropout: dropout on attention weights and on each residual branch (training only).
        max_seq_len: longest sequence (KV cache capacity, rotary table length).
        rotary_base: rotary frequency base.
    """

    dim: int = 256
    depth: int = 4
    heads: int = 4
    ff_mult: float = 4.0
    dropout: float = 0.0
    max_seq_len: int = 4096
    rotary_base: float = 10000.0

    def __post_init__(self) -> None:
        if self.dim < 1 or self.depth < 1 or self.heads < 1:
            raise ValueError(f"dim, depth and heads must be positive, got {self.dim}, {self.depth}, {self.heads}")
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if (self.dim // self.heads) % 2:
            raise ValueError(f"head width dim/heads = {self.dim // self.heads} must be even for rotary positions")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.max_seq_len < 1:
            raise ValueError(f"max_seq_len must be positive, got {self.max_seq_len}")
        if self.ff_mult <= 0:
            raise ValueError(f"ff_mult must be positive, got {self.ff_mult}")


class KVCache:
    """Preallocated keys and values of every layer: ``Tensor[B, 2, H, capacity, head_dim]`` per layer
    (index 0 keys, 1 values, so one copy writes both).

    ``length`` positions are valid. :meth:`crop` rolls back to an earlier length (a layout undoing a
    step, or a window restarting); the storage is reused, nothing is reallocated.
    """

    def __init__(self, layers: list[Tensor]) -> None:
        self.layers = layers
        self.length = 0

    @property
    def keys(self) -> list[Tensor]:
        return [kv[:, 0] for kv in self.layers]

    @property
    def values(self) -> list[Tensor]:
        return [kv[:, 1] for kv in self.layers]

    @property
    def batch_size(self) -> int:
        return self.layers[0].shape[0]

    @property
    def capacity(self) -> int:
        return self.layers[0].shape[3]

    def crop(self, length: int) -> None:
        """Keep only the first ``length`` cached positions."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot crop a KV cache of length {self.length} to {length}")
        self.length = length

    def reset(self) -> None:
        self.length = 0


class RotaryTable(nn.Module):
    """Rotations ``exp(i * pos * freq)`` for the q, k and v thirds of a fused projection, computed once.

    ``table``: ``Tensor[max_seq_len, 3, 1, head_dim / 2]`` complex; the v third is ``1 + 0i`` so a
    single complex multiply rotates q and k and leaves v exactly as it is (one kernel, no splitting).
    """

    def __init__(self, head_dim: int, max_seq_len: int, base: float) -> None:
        super().__init__()
        freqs = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        angles = torch.arange(max_seq_len, dtype=torch.float64)[:, None] * freqs[None]
        rotation = torch.polar(torch.ones_like(angles), angles)
        identity = torch.ones_like(rotation)
        # a plain attribute, not a buffer: ``module.to(torch.bfloat16)`` would cast a complex buffer to real
        # (dropping the sine part); the table stays complex64 and only follows the device
        self.table = torch.stack([rotation, rotation, identity], dim=1)[:, :, None].to(torch.complex64)

    def forward(self, qkv: Tensor, start: int) -> Tensor:
        """Rotate q and k of ``qkv: Tensor[B, T, 3, H, Dh]`` at positions ``start .. start+T-1``; same shape."""
        if self.table.device != qkv.device:
            self.table = self.table.to(qkv.device)
        seq = qkv.shape[1]
        dtype = qkv.dtype
        pairs = qkv if dtype == torch.float32 else qkv.float()
        pairs = torch.view_as_complex(pairs.unflatten(-1, (-1, 2)))
        rotated = torch.view_as_real(pairs * self.table[start : start + seq]).flatten(-2)
        return rotated if dtype == torch.float32 else rotated.to(dtype)


class Block(nn.Module):
    """Pre-norm attention + feed-forward with residuals."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        dim, hidden = config.dim, int(round(config.dim * config.ff_mult))
        self.heads, self.head_dim = config.heads, config.dim // config.heads
        self.dropout = config.dropout
        self.attn_norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.ff_norm = nn.LayerNorm(dim)
        self.ff_in = nn.Linear(dim, hidden)
        self.ff_out = nn.Linear(hidden, dim)

    def forward(self, x: Tensor, rotary: RotaryTable, cache: KVCache | None, layer: int, causal: bool = True) -> Tensor:
        """``x: Tensor[B, T, D]`` -> ``Tensor[B, T, D]``; ``causal=False``: every position sees every other."""
        batch, seq, dim = x.shape
        qkv = self.qkv(self.attn_norm(x)).view(batch, seq, 3, self.heads, self.head_dim)
        start = 0 if cache is None else cache.length
        qkv = rotary(qkv, start).transpose(1, 3)  # [B, H, 3, T, Dh]
        q = qkv[:, :, 0]
        drop = self.dropout if self.training else 0.0
        if cache is None:
            attn = F.scaled_dot_product_attention(q, qkv[:, :, 1], qkv[:, :, 2], dropout_p=drop, is_causal=causal and seq > 1)
        else:
            end = start + seq
            store = cache.layers[layer]
            store[:, :, :, start:end] = qkv[:, :, 1:].transpose(1, 2)
            keys, values = store[:, 0, :, :end], store[:, 1, :, :end]
            if seq == 1:  # one new query sees every cached position: no mask needed
                attn = F.scaled_dot_product_attention(q, keys, values, dropout_p=drop)
            elif start == 0:
                attn = F.scaled_dot_product_attention(q, keys, values, dropout_p=drop, is_causal=True)
            else:  # a chunk after a prefix: causal within the chunk, full view of the prefix
                rows = torch.arange(start, end, device=x.device)[:, None]
                mask = torch.arange(end, device=x.device)[None, :] <= rows
                attn = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, dropout_p=drop)
        attn = self.out(attn.reshape(batch, 1, dim) if seq == 1 else attn.transpose(1, 2).reshape(batch, seq, dim))
        x = x + F.dropout(attn, drop, self.training) if drop else x + attn
        # tanh GELU: same shape of curve, ~3x cheaper than erf on CPU
        ff = self.ff_out(F.gelu(self.ff_in(self.ff_norm(x)), approximate="tanh"))
        return x + F.dropout(ff, drop, self.training) if drop else x + ff

    def step(self, x: Tensor, rotation: Tensor, store: Tensor, position: int) -> Tensor:
        """Decode one position without dropout: ``x: Tensor[B, D]`` -> ``Tensor[B, D]``.

        The same computation as :meth:`forward` with ``T = 1``, in fewer kernels (no sequence axis, one
        view for rotation, one copy into the cache): per-token overhead is what limits decoding.
        ``rotation``: ``Tensor[3, 1, Dh/2]`` complex row of the rotary table; ``store``: this layer's cache.
        """
        batch, dim = x.shape
        norm = self.attn_norm
        fp = type(self.qkv) is nn.Linear  # else int8-quantised (lm/quantize.py): call the module
        normed = F.layer_norm(x, (dim,), norm.weight, norm.bias, norm.eps)
        qkv = F.linear(normed, self.qkv.weight) if fp else self.qkv(normed)
        pairs = torch.view_as_complex(qkv.view(batch, 3, self.heads, self.head_dim // 2, 2))
        rotated = torch.view_as_real(pairs * rotation)  # [B, 3, H, Dh/2, 2]
        store[:, :, :, position] = rotated[:, 1:].reshape(batch, 2, self.heads, self.head_dim)
        query = rotated[:, 0].reshape(batch, self.heads, 1, self.head_dim)
        end = position + 1
        attn = F.scaled_dot_product_attention(query, store[:, 0, :, :end], store[:, 1, :, :end])
        x = x + (F.linear(attn.reshape(batch, dim), self.out.weight) if fp else self.out(attn.reshape(batch, dim)))
        return x + self.ff_out(F.gelu(self.ff_in(self.ff_norm(x)), approximate="tanh"))


class Transformer(nn.Module):
    """Causal decoder over embeddings: ``Tensor[B, T, D]`` -> ``Tensor[B, T, D]`` (final LayerNorm applied)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.dim)
        self.rotary = RotaryTable(config.dim // config.heads, config.max_seq_len, config.rotary_base)

    def forward(self, x: Tensor, cache: KVCache | None = None, *, causal: bool = True) -> Tensor:
        """Run the decoder (or, with ``causal=False``, a bidirectional encoder over the same blocks).

        Args:
            x: ``Tensor[B, T, D]`` input embeddings.
            cache: if given, ``x`` continues the cached sequence: its keys/values are appended at
                positions ``cache.length ..`` and every query attends to all cached positions before it
                (incremental decoding). ``cache.length`` grows by ``T``.
            causal: ``False`` lets every position attend to every other (a masked-token model such as
                :mod:`audiolm_lib.lm.parallel`); not combinable with ``cache``.

        Returns:
            ``Tensor[B, T, D]``.
        """
        if x.dim() != 3 or x.shape[-1] != self.config.dim:
            raise ValueError(f"expected Tensor[B, T, {self.config.dim}], got shape {tuple(x.shape)}")
        if cache is not None and not causal:
            raise ValueError("a KV cache is for causal decoding; causal=False takes the whole sequence at once")
        start = 0 if cache is None else cache.length
        end = start + x.shape[1]
        if end > self.config.max_seq_len:
            raise ValueError(f"sequence of {end} positions exceeds max_seq_len={self.config.max_seq_len}")
        if cache is not None:
            if end > cache.capacity:
                raise ValueError(f"KV cache capacity {cache.capacity} exceeded: {end} positions")
            if cache.batch_size != x.shape[0]:
                raise ValueError(f"KV cache holds batch {cache.batch_size}, input has batch {x.shape[0]}")
        for layer, block in enumerate(self.blocks):
            x = block(x, self.rotary, cache, layer, causal)
        if cache is not None:
            cache.length = end
        return self.norm(x)

    def step(self, x: Tensor, cache: KVCache) -> Tensor:
        """Append one position to ``cache`` and return its output: ``x: Tensor[B, D]`` -> ``Tensor[B, D]``.

        Equivalent to ``forward(x[:, None], cache)[:, 0]`` in eval mode, with less per-call overhead
        (float32 only; other dtypes take the general path; int8-quantised Linears are called as modules).
        """
        position = cache.length
        if x.dtype != torch.float32 or self.training:
            return self.forward(x[:, None], cache)[:, 0]
        if position + 1 > cache.capacity or position + 1 > self.config.max_seq_len:
            raise ValueError(f"KV cache capacity {cache.capacity} exceeded: {position + 1} positions")
        table = self.rotary.table
        if table.device != x.device:
            table = self.rotary.table = table.to(x.device)
        rotation = table[position]
        for block, store in zip(self.blocks, cache.layers):
            x = block.step(x, rotation, store, position)
        cache.length = position + 1
        return self.norm(x)

    def new_cache(self, batch_size: int, capacity: int, device=None, dtype=None) -> KVCache:
        """An empty :class:`KVCache` for ``batch_size`` sequences of up to ``capacity`` positions."""
        if capacity > self.config.max_seq_len:
            raise ValueError(f"cache capacity {capacity} exceeds max_seq_len={self.config.max_seq_len}")
        reference = self.norm.weight
        device = reference.device if device is None else device
        dtype = reference.dtype if dtype is None else dtype
        shape = (batch_size, 2, self.config.heads, capacity, self.config.dim // self.config.heads)
        # uninitialised on purpose: only positions < length are ever read, and zeroing costs more than a short generation
        return KVCache([torch.empty(shape, device=device, dtype=dtype) for _ in range(self.config.depth)])
