"""Decoding codes that arrive chunk by chunk (a stream) into audio that joins without seams.

Each chunk is decoded together with ``context_frames`` code frames before it (the decoder's receptive field,
:func:`~audiolm_lib.prompt.decoder_context_frames`, as ``AudioLM._decode_tail`` does for a prompt) and up to
``lookahead_frames`` after it: the last ``lookahead_frames`` of what has arrived are held back until the next
chunk brings their right-hand context. Where two decodes overlap, ``crossfade_frames`` of audio are
cross-faded (equal-power is wrong here: the two versions are nearly the same signal, so a linear fade keeps
the level). A codec with ``decode_continuing`` (:class:`~audiolm_lib.codecs.spectral.SpectralCodec`, whose
phase is rebuilt from the magnitude) is also handed the audio it already produced for the overlap, so the new
chunk's phase continues the old one's instead of starting afresh::

    codes:   ... | context (L) | emit ............ | held (R) |
    audio:   played ........ |x| new chunk ......|x| next call
                              ^ crossfade         ^ kept as the tail, faded into the next decode
"""
from __future__ import annotations

import torch
from torch import Tensor

from audiolm_lib.prompt import decoder_context_frames


class ChunkedDecoder:
    """Codes in (``push``), audio out, with bounded memory: a streaming view of ``codec.decode``.

    Args:
        codec: any codec (``decode(LongTensor[B, Q, F]) -> Tensor[B, 1, F * hop_length]``).
        context: ``LongTensor[B, Q, F0]`` codes before the first pushed frame (the prompt): decoded as left
            context, never output. None: the stream starts from nothing.
        context_frames / lookahead_frames / crossfade_frames: see the module docstring (context and lookahead
            default: the codec's decoder receptive field, :func:`~audiolm_lib.prompt.decoder_context_frames`).
        postprocess: ``Tensor[B, 1, T] -> Tensor[B, 1, T]`` applied to each decoded window, context and held-back
            frames included, before its new samples are cut out (the steps after the decoder:
            ``AudioLM.output_steps``); the next chunk's phase continues the decoder's own audio, not the
            postprocessed one.
    """

    def __init__(self, codec, context: Tensor | None = None, *, context_frames: int | None = None,
                 lookahead_frames: int | None = None, crossfade_frames: int = 4, postprocess=None):
        self.codec = codec
        self.postprocess = postprocess
        self.hop = int(codec.hop_length)
        self.context_frames = decoder_context_frames(codec) if context_frames is None else int(context_frames)
        self.lookahead_frames = self.context_frames if lookahead_frames is None else int(lookahead_frames)
        self.crossfade = int(crossfade_frames) * self.hop
        if self.context_frames < 0 or self.lookahead_frames < 0 or crossfade_frames < 0:
            raise ValueError("context_frames, lookahead_frames and crossfade_frames must be >= 0")
        if crossfade_frames > self.context_frames:
            raise ValueError(f"crossfade_frames ({crossfade_frames}) cannot exceed context_frames "
                             f"({self.context_frames})")
        self._codes = None if context is None else context[..., max(0, context.shape[-1] - self.context_frames):]
        self._emitted = 0 if self._codes is None else self._codes.shape[-1]  # next frame to output, in ``_codes``
        self._tail: Tensor | None = None  # audio of the last ``crossfade`` samples before ``_emitted``, not yet out
        self._recent: Tensor | None = None  # audio (as decoded) of the frames just before ``_emitted``
        self._continuing = hasattr(codec, "decode_continuing")
        self._first = self._emitted  # frame of the first output sample, in ``_codes`` as first given
        self._dropped = 0  # frames trimmed off the front of ``_codes`` since
        self.seams: list[int] = []  # output samples where one decode hands over to the next (mid cross-fade)

    @torch.inference_mode()
    def push(self, codes: Tensor, final: bool = False) -> Tensor:
        """Add ``LongTensor[B, Q, n]`` codes; return the audio now ready, ``Tensor[B, 1, t]`` (``t`` may be 0).

        ``final``: no more codes follow: everything left is output (the stream's total length is then exactly
        ``frames pushed * hop_length`` samples).
        """
        if codes.dim() != 3:
            raise ValueError(f"codes must be LongTensor[B, Q, n], got shape {tuple(codes.shape)}")
        self._codes = codes if self._codes is None else torch.cat([self._codes, codes.to(self._codes.device)], -1)
        available = self._codes.shape[-1]
        ready = available if final else available - self.lookahead_frames
        if ready <= self._emitted or (not final and (ready - self._emitted) * self.hop <= self.crossfade):
            return self._codes.new_zeros(self._codes.shape[0], 1, 0, dtype=torch.float32)
        first = max(0, self._emitted - self.context_frames)
        window = self._codes[..., first:min(available, ready + self.lookahead_frames)]
        if self._continuing:
            wave = self.codec.decode_continuing(window, self._recent)
        else:
            wave = self.codec.decode(window)
        wave = wave.float()
        heard = wave if self.postprocess is None else self.postprocess(wave).float()
        begin = (self._emitted - first) * self.hop  # the first new sample, in ``wave``
        stop = (ready - first) * self.hop
        keep = 0 if final else self.crossfade
        pieces = []
        if self._tail is not None:
            fade = torch.linspace(0.0, 1.0, self._tail.shape[-1] + 2, device=wave.device)[1:-1]
            pieces.append(self._tail * (1 - fade) + heard[..., begin - self._tail.shape[-1]:begin] * fade)
        pieces.append(heard[..., begin:stop - keep])
        self._tail = heard[..., stop - keep:stop] if keep else None
        # what the next decode's context frames sound like (their phase seeds the next chunk's)
        recent = wave[..., :stop]
        context_samples = self.context_frames * self.hop
        self._recent = recent[..., max(0, recent.shape[-1] - context_samples):]
        if not final:
            self.seams.append((ready + self._dropped - self._first) * self.hop - keep // 2)
        self._emitted = ready
        drop = max(0, self._emitted - self.context_frames)  # codes no later decode needs
        self._codes, self._emitted, self._dropped = self._codes[..., drop:], self._emitted - drop, self._dropped + drop
        return torch.cat(pieces, dim=-1)
