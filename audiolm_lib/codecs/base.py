"""What the library's own codecs share behind the codec interface: the protocol attributes read from their config,
the checks on waves and codes (clear errors, never a deep traceback), and chunked encoding with bounded memory.

A codec class mixes in :class:`CodecBase`, holds a ``config`` with ``sample_rate`` / ``num_quantizers`` /
``codebook_size`` and defines ``hop_length``, ``encode`` and ``decode``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from audiolm_lib.audio import AudioError


class CodecBase:
    """Protocol attributes, input checks and chunked encoding for ``nn.Module`` codecs with a ``config``."""

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def num_quantizers(self) -> int:
        return self.config.num_quantizers

    @property
    def codebook_size(self) -> int:
        return self.config.codebook_size

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def _check_wave(self, wave: torch.Tensor) -> torch.Tensor:
        """A finite float ``Tensor[B, 1, T]`` with samples, right zero-padded to whole frames."""
        if not isinstance(wave, torch.Tensor):
            raise AudioError(f"expected a torch.Tensor wave, got {type(wave).__name__}")
        if wave.dim() != 3 or wave.shape[1] != 1:
            raise AudioError(f"expected a mono wave Tensor[B, 1, T], got shape {tuple(wave.shape)}")
        if wave.shape[-1] == 0:
            raise AudioError("wave has 0 samples")
        if not wave.is_floating_point():
            raise AudioError(f"expected a float wave, got dtype {wave.dtype}")
        if not torch.isfinite(wave).all():
            raise AudioError("wave contains NaN or Inf samples")
        remainder = wave.shape[-1] % self.hop_length
        return wave if remainder == 0 else F.pad(wave, (0, self.hop_length - remainder))

    def _check_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """``LongTensor[B, Q', F]`` with ``1 <= Q' <= Q`` leading levels, ``F >= 1``, ids in the codebooks."""
        if not isinstance(codes, torch.Tensor) or codes.dim() != 3:
            shape = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
            raise ValueError(f"expected codes LongTensor[B, Q, F], got {shape}")
        if codes.is_floating_point():
            raise ValueError(f"codes must be integers, got dtype {codes.dtype}")
        if not 1 <= codes.shape[1] <= self.num_quantizers:
            raise ValueError(f"codes have {codes.shape[1]} levels; this codec decodes 1..{self.num_quantizers}")
        if codes.shape[-1] == 0:
            raise ValueError("codes have 0 frames")
        if codes.min() < 0 or codes.max() >= self.codebook_size:
            raise ValueError(f"codes must lie in [0, {self.codebook_size}), got range "
                             f"[{int(codes.min())}, {int(codes.max())}]")
        return codes.long()

    def _encode_in_chunks(self, wave: torch.Tensor, chunk_seconds: float, left_context: int,
                          right_context: int) -> torch.Tensor:
        """Encode ``Tensor[B, 1, T]`` chunk by chunk, each with ``left_context`` / ``right_context`` samples (whole
        frames) of neighbouring audio whose codes are dropped: ``LongTensor[B, Q, F]`` with bounded memory."""
        wave = self._check_wave(wave)
        hop = self.hop_length
        chunk = max(1, round(chunk_seconds * self.sample_rate / hop)) * hop
        total = wave.shape[-1]
        pieces = []
        for start in range(0, total, chunk):
            end = min(start + chunk, total)
            left, right = max(0, start - left_context), min(total, end + right_context)
            codes = self.encode(wave[..., left:right])
            first = (start - left) // hop
            pieces.append(codes[..., first:first + (end - start) // hop])
        return torch.cat(pieces, dim=-1)
