"""Held-out evaluation sets for the quality benchmark, built deterministically and cached.

What is held out follows :mod:`audiolm_lib.datasets.splits` (never changed here):

- ``librivox``: a real reader from Debian's ``pocketsphinx-testdata`` (5 consecutive sentences of *Sense and
  Sensibility*, 16 kHz, with transcripts). Evaluation only.
- ``asterisk``: a real voice (Allison) from Debian's ``asterisk-core-sounds-en-wav``: telephone prompts at 8 kHz
  (band-limited to 4 kHz, upsampled to 16 kHz), joined into clips of a few seconds; the package has no
  transcripts. Evaluation only.
- ``tts``: the held-out TTS speaker identities (:data:`~audiolm_lib.datasets.splits.HELDOUT_SPEAKER_IDENTITIES`)
  reading Harvard sentences (IEEE 1969), which the embedded speech set's sentence generator does not produce.
- ``piano-<soundfont>``: pieces of the music21 corpus whose :func:`~audiolm_lib.datasets.splits.piece_split` is
  ``"test"``, rendered with a training soundfont (``TimGM6mb``) and with the held-out one (``sf_GMbank``), so an
  unseen piece on a known piano can be told from an unseen piano.

A set is a folder ``<cache>/v<version>-<spec hash>/`` with ``audio/*.wav`` and ``manifest.jsonl`` (written last:
its presence means the set is complete). The default cache is ``~/.cache/audiolm_lib/heldout``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np

from audiolm_lib.datasets.piano_variants import soundfont_file  # noqa: F401 (re-exported: bench and tests use it here)
from audiolm_lib.datasets.splits import (
    HELDOUT_SOUNDFONT,
    HELDOUT_SPEAKER_IDENTITIES,
    TRAIN_SOUNDFONTS,
    hash_position,
    is_evaluation_only,
    piece_split,
    speaker_identity,
)

VERSION = 2  # bump when what a spec builds changes: cached sets are then rebuilt
SAMPLE_RATE = 16000
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
ASTERISK_ROOT = Path("/usr/share/asterisk/sounds")
# Recorded voices first: the quick set takes the first identities of this order.
TTS_IDENTITY_ORDER = ("slt", "ked", "espeak:f3", "espeak:m7")
HARVARD_SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
)
GAP_SECONDS = 0.3  # silence between joined clips


@dataclasses.dataclass(frozen=True)
class HeldoutSpec:
    """How much of each held-out source a set holds."""

    librivox_clips: int = 5  # of the 5 available
    asterisk_clips: int = 3  # clips of >= asterisk_seconds, each several prompts joined
    asterisk_seconds: float = 5.0
    tts_identities: int = 4  # of the held-out identities, in TTS_IDENTITY_ORDER
    tts_sentences: int = 3  # per identity
    pieces: int = 6  # held-out pieces, each rendered with every soundfont below
    piece_seconds: float = 10.0
    soundfonts: tuple[str, ...] = (TRAIN_SOUNDFONTS[0], HELDOUT_SOUNDFONT)
    max_score_mb: float = 0.3  # small scores parse in about a second

    def key(self) -> str:
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return f"v{VERSION}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


FULL = HeldoutSpec()
QUICK = HeldoutSpec(librivox_clips=2, asterisk_clips=1, asterisk_seconds=4.0, tts_identities=1, tts_sentences=2,
                    pieces=1, piece_seconds=6.0)


def default_cache_dir() -> Path:
    """``$AUDIOLM_HELDOUT_DIR`` or ``~/.cache/audiolm_lib/heldout``."""
    return Path(os.environ.get("AUDIOLM_HELDOUT_DIR") or Path.home() / ".cache" / "audiolm_lib" / "heldout")


def build_heldout(spec: HeldoutSpec = FULL, cache_dir: str | os.PathLike | None = None, progress: bool = True) -> list[dict]:
    """Build (or reuse) the held-out set of ``spec``; returns its manifest entries.

    Entries: ``{"id", "domain": "speech"|"piano", "set", "speaker"|"piece", "audio" (absolute path),
    "sample_rate", "seconds", "transcript" (speech, or None)}`` plus ``"soundfont"`` for piano, ``"sources"``
    (the files a real-recording clip was cut from) and ``"voice"`` for TTS. Clips of one speaker / piece follow
    each other in reading order.
    """
    folder = Path(cache_dir or default_cache_dir()) / spec.key()
    manifest = folder / "manifest.jsonl"
    if manifest.exists():
        return _read(manifest, folder)
    from tqdm.auto import tqdm

    from audiolm_lib.atomic import atomic_write_text

    (folder / "audio").mkdir(parents=True, exist_ok=True)
    makers = [_librivox(spec), _asterisk(spec), _tts(spec), _piano(spec)]
    entries = []
    with tqdm(desc="held-out set", unit="clip", disable=not progress) as bar:
        for maker in makers:
            for entry, make_wave in maker:
                path = folder / "audio" / f"{entry['id']}.wav"
                if not path.exists():
                    _save(path, make_wave())
                entry.update(audio=f"audio/{path.name}", sample_rate=SAMPLE_RATE, seconds=_seconds(path))
                entries.append(entry)
                bar.update(1)
    if not entries:
        raise RuntimeError("the held-out set is empty: install the sources with `bash .ci/install`")
    atomic_write_text(manifest, "".join(json.dumps(entry) + "\n" for entry in entries))
    atomic_write_text(folder / "spec.json", json.dumps(dataclasses.asdict(spec), indent=2) + "\n")
    return _read(manifest, folder)


def _read(manifest: Path, folder: Path) -> list[dict]:
    entries = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    for entry in entries:
        entry["audio"] = str(folder / entry["audio"])
    return entries


def _save(path: Path, wave: np.ndarray) -> None:
    from audiolm_lib.audio import save_audio

    if wave.ndim != 1 or wave.size == 0 or not np.isfinite(wave).all():
        raise RuntimeError(f"held-out clip {path.name} came out empty or not finite")
    save_audio(path, wave.astype(np.float32), SAMPLE_RATE)


def _seconds(path: Path) -> float:
    import soundfile

    info = soundfile.info(str(path))
    return round(info.frames / info.samplerate, 3)


def _load(path: Path) -> np.ndarray:
    from audiolm_lib.audio import load_audio

    if not is_evaluation_only(str(path)):
        raise ValueError(f"{path} is not an evaluation-only recording")
    return load_audio(path, sample_rate=SAMPLE_RATE)[0].numpy()


def _join(waves: list[np.ndarray]) -> np.ndarray:
    gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), np.float32)
    parts = [part for wave in waves for part in (wave, gap)][:-1]
    return np.concatenate(parts).astype(np.float32)


def _missing(what: str, package: str) -> None:
    warnings.warn(f"held-out set without {what}: `apt-get install {package}` (bash .ci/install)")


# --------------------------------------------------------------------------------------------- speech
def librivox_transcripts() -> list[tuple[Path, str]]:
    """``(wav, transcript)`` of the pocketsphinx-testdata LibriVox reader, in reading order."""
    listing = LIBRIVOX / "transcription"
    if not listing.exists():
        return []
    found = []
    for line in listing.read_text(encoding="utf-8").splitlines():
        match = re.match(r"<s> (.*) </s> \((.*)\)", line.strip())
        if match and (LIBRIVOX / f"{match.group(2)}.wav").exists():
            found.append((LIBRIVOX / f"{match.group(2)}.wav", match.group(1)))
    return sorted(found)


def _librivox(spec: HeldoutSpec):
    clips = librivox_transcripts()[: spec.librivox_clips]
    if spec.librivox_clips and not clips:
        _missing("the LibriVox reader", "pocketsphinx-testdata")
    for path, text in clips:
        entry = {"id": f"librivox_{path.stem.rsplit('-', 1)[-1]}", "domain": "speech", "set": "librivox",
                 "speaker": "librivox:austen_reader", "transcript": text, "sources": [str(path)]}
        yield entry, lambda path=path: _load(path)


def asterisk_prompts() -> list[Path]:
    """Allison's telephone prompts (top folder only: the word-level ones are too short), in hash order."""
    folders = sorted(ASTERISK_ROOT.glob("en*")) if ASTERISK_ROOT.exists() else []
    files = [path for folder in folders[:1] for path in folder.glob("*.wav")]
    return sorted(files, key=lambda path: (hash_position(path.name), path.name))


def _asterisk(spec: HeldoutSpec):
    import soundfile

    prompts = asterisk_prompts() if spec.asterisk_clips else []
    if spec.asterisk_clips and not prompts:
        _missing("the Asterisk voice", "asterisk-core-sounds-en-wav")
    groups, group, seconds = [], [], 0.0
    for path in prompts:
        if len(groups) == spec.asterisk_clips:
            break
        duration = soundfile.info(str(path)).duration
        if duration < 1.0:
            continue
        group.append(path)
        seconds += duration + GAP_SECONDS
        if seconds >= spec.asterisk_seconds:
            groups.append(group)
            group, seconds = [], 0.0
    for number, paths in enumerate(groups):
        entry = {"id": f"asterisk_{number}", "domain": "speech", "set": "asterisk", "speaker": "asterisk:allison",
                 "transcript": None, "sources": [str(path) for path in paths]}
        yield entry, lambda paths=paths: _join([_load(path) for path in paths])


def heldout_voices() -> list:
    """One installed voice per held-out speaker identity, in :data:`TTS_IDENTITY_ORDER` (others after, sorted)."""
    from audiolm_lib.datasets import speech

    by_identity: dict[str, list] = {}
    for voice in speech.available_voices():
        identity = speaker_identity(voice.engine, voice.voice)
        if identity in HELDOUT_SPEAKER_IDENTITIES:
            by_identity.setdefault(identity, []).append(voice)
    order = list(TTS_IDENTITY_ORDER) + sorted(set(by_identity) - set(TTS_IDENTITY_ORDER))
    return [min(by_identity[identity], key=_plainness) for identity in order if identity in by_identity]


def _plainness(voice) -> tuple:
    """US, then British English accents first: whisper tiny.en misreads the others too often for a WER reference
    (espeak's Caribbean variants: WER 0.5-1.9 on the original audio)."""
    accent = voice.voice.split("+", 1)[0] if voice.engine == "espeak" else ""
    rank = 0 if accent in ("", "en-us") else 1 if accent.startswith("en-us") else 2 if accent in ("en", "en-gb") else 3
    return rank, voice.name


def _tts(spec: HeldoutSpec):
    if not spec.tts_identities:
        return
    from audiolm_lib.datasets import speech

    voices = heldout_voices()[: spec.tts_identities]
    if len(voices) < spec.tts_identities:
        _missing(f"{spec.tts_identities - len(voices)} held-out TTS identities", "espeak-ng festival flite")
    if spec.tts_sentences > len(HARVARD_SENTENCES):
        raise ValueError(f"tts_sentences must be at most {len(HARVARD_SENTENCES)}, got {spec.tts_sentences}")
    for number, voice in enumerate(voices):
        identity = speaker_identity(voice.engine, voice.voice)
        for k in range(spec.tts_sentences):
            text = HARVARD_SENTENCES[(number * spec.tts_sentences + k) % len(HARVARD_SENTENCES)]
            entry = {"id": f"tts_{voice.name}_{k}", "domain": "speech", "set": "tts", "speaker": identity,
                     "voice": voice.name, "transcript": text}
            yield entry, lambda voice=voice, text=text: np.asarray(speech.synthesize(voice, text), np.float32)


# --------------------------------------------------------------------------------------------- piano
def heldout_pieces(max_score_mb: float = 0.3) -> list[tuple[str, Path]]:
    """Corpus pieces whose split is ``"test"``, in :func:`~audiolm_lib.datasets.piano.list_pieces` order."""
    from audiolm_lib.datasets.piano import list_pieces

    return [(name, path) for name, path in list_pieces(seed=0, max_score_mb=max_score_mb) if piece_split(name) == "test"]


def piece_excerpt(path: Path, seconds: float) -> list | None:
    """The first ``seconds`` of a score from its first note: ``NoteEvent``\\ s, or ``None`` when the piece is
    shorter than 90 % of that or has fewer than 8 notes."""
    from audiolm_lib.datasets.piano import score_notes

    notes = score_notes(path, max_seconds=None, seed=0)
    if len(notes) < 8:
        return None
    start = min(note.start for note in notes)
    kept = [
        dataclasses.replace(note, start=note.start - start, end=min(note.end - start, seconds))
        for note in notes
        if note.start - start < seconds
    ]
    if max(note.start for note in kept) < 0.9 * seconds - 1.0:
        return None
    return kept


def _piano(spec: HeldoutSpec):
    if not spec.pieces:
        return
    from audiolm_lib.datasets.piano import render_notes

    fonts = {name: soundfont_file(name) for name in spec.soundfonts}
    found = 0
    for name, path in heldout_pieces(spec.max_score_mb):
        if found == spec.pieces:
            break
        try:
            notes = piece_excerpt(path, spec.piece_seconds)
        except Exception as exc:  # music21 refuses some corpus files; the next held-out piece is taken
            warnings.warn(f"held-out piece {name} skipped: {type(exc).__name__}: {exc}")
            continue
        if notes is None:
            continue
        found += 1
        for font_name, font in fonts.items():
            entry = {"id": f"piano_{name}@{font_name}", "domain": "piano", "set": f"piano-{font_name}",
                     "piece": name, "soundfont": font_name, "transcript": None}
            samples = int(spec.piece_seconds * SAMPLE_RATE)
            yield entry, lambda notes=notes, font=font: render_notes(notes, SAMPLE_RATE, soundfont=font)[:samples]
