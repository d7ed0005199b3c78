"""The library's own exception for checkpoints, below every module that raises or catches it.

(:class:`~audiolm_lib.audio.AudioError` is the audio one.) :mod:`audiolm_lib.serialization` re-exports it, so
``from audiolm_lib.serialization import CheckpointError`` keeps working.
"""
from __future__ import annotations


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, of the wrong kind or does not match the model."""
