"""Acoustic codecs: SoundStream (trained here) and EnCodec (from a local checkpoint)."""
