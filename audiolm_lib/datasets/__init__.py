"""Embedded data builders that need no download (piano from music21, speech from TTS voices)."""
