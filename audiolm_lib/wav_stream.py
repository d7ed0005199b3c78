"""A 16-bit PCM WAV written as audio arrives: a valid file after every chunk.

To a path: the chunks go to a temp file beside it (``audiolm_lib.atomic``'s naming), whose header is rewritten
after every chunk, so the temp file is a complete WAV of what has arrived at any moment; :meth:`close` renames
it onto the target (on an error it is removed, as an atomic write's). To a stream (``-o -``, standard output):
a stream that can seek (a redirected file) gets the true sizes at the end; a pipe (``| aplay``, ``| ffplay -``)
gets the "length unknown" sizes (``0xFFFFFFFF``) that streaming WAV readers accept, and data as it comes.
"""
from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

UNKNOWN_SIZE = 0xFFFFFFFF
HEADER_BYTES = 44


def wav_header(sample_rate: int, channels: int, data_bytes: int | None) -> bytes:
    """The 44-byte header of a 16-bit PCM WAV with ``data_bytes`` of samples (None: unknown, streaming)."""
    block = 2 * channels
    data = UNKNOWN_SIZE if data_bytes is None else data_bytes
    riff = UNKNOWN_SIZE if data_bytes is None else 36 + data_bytes
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate,
                                                                             sample_rate * block, block, 16)
            + b"data" + struct.pack("<I", data))


class StreamingWavWriter:
    """``write(samples)`` chunk by chunk, then ``close()``; also a context manager (closes, or on an error
    removes the temp file).

    Args:
        target: a file path, or a binary stream (``sys.stdout.buffer``).
        sample_rate: samples per second; one channel.
    """

    def __init__(self, target: str | os.PathLike | BinaryIO, sample_rate: int):
        if int(sample_rate) <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.sample_rate = int(sample_rate)
        self.frames = 0
        self.path: Path | None = None
        self._temp: str | None = None
        if isinstance(target, (str, os.PathLike)):
            self.path = Path(target)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._temp = tempfile.mkstemp(prefix=f".{self.path.name}.{os.getpid()}-", suffix=".tmp",
                                              dir=self.path.parent)
            self._handle: BinaryIO = os.fdopen(fd, "w+b")
            self._seekable = True
        else:
            self._handle = target
            try:
                self._seekable = target.seekable() and target.tell() == 0
            except (AttributeError, OSError, ValueError):
                self._seekable = False
        self._handle.write(wav_header(self.sample_rate, 1, 0 if self._seekable else None))
        self._handle.flush()

    @property
    def temp_path(self) -> Path | None:
        """Where a path target's audio is until :meth:`close` (a valid WAV at every moment)."""
        return None if self._temp is None else Path(self._temp)

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    def write(self, samples) -> None:
        """Append ``samples`` (``Tensor``/array of any shape holding one channel: ``[T]``, ``[1, T]``,
        ``[1, 1, T]``), clipped to [-1, 1]; the header then describes them."""
        array = samples.detach().cpu().float().numpy() if hasattr(samples, "detach") else np.asarray(samples)
        array = array.reshape(-1)
        if not np.isfinite(array).all():
            raise ValueError("cannot write audio with NaN or infinite samples")
        pcm = np.round(np.clip(array, -1.0, 1.0) * 32767.0).astype("<i2")
        self._handle.write(pcm.tobytes())
        self.frames += len(pcm)
        self._update_header()

    def _update_header(self) -> None:
        if self._seekable:
            data = 2 * self.frames
            end = self._handle.tell()
            self._handle.seek(4)
            self._handle.write(struct.pack("<I", 36 + data))
            self._handle.seek(40)
            self._handle.write(struct.pack("<I", data))
            self._handle.seek(end)
        self._handle.flush()

    def close(self) -> Path | None:
        """Finish the file (rename a path target's temp file onto it); returns the path (None for a stream)."""
        self._update_header()
        if self._temp is None:
            return None
        from audiolm_lib.atomic import _fsync_folder, _target_mode

        os.fsync(self._handle.fileno())
        self._handle.close()
        os.chmod(self._temp, _target_mode(self.path))
        os.replace(self._temp, self.path)
        self._temp = None
        _fsync_folder(self.path.parent)
        return self.path

    def abort(self) -> None:
        """Drop a path target's temp file (the target stays as it was)."""
        if self._temp is not None:
            self._handle.close()
            if os.path.exists(self._temp):
                os.remove(self._temp)
            self._temp = None

    def __enter__(self) -> "StreamingWavWriter":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None or issubclass(kind, KeyboardInterrupt):  # Ctrl-C keeps what was made: a valid WAV
            self.close()
        else:
            self.abort()
