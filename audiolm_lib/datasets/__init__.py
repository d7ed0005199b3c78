"""Embedded data builders that need no download (piano from music21, speech from TTS voices) and manifests."""
from audiolm_lib.datasets.manifest import ManifestError, manifest_from_folder, read_manifest, stable_split, write_manifest
from audiolm_lib.datasets.piano import build_piano_dataset
from audiolm_lib.datasets.speech import build_speech_dataset

__all__ = [
    "ManifestError",
    "build_piano_dataset",
    "build_speech_dataset",
    "manifest_from_folder",
    "read_manifest",
    "stable_split",
    "write_manifest",
]
