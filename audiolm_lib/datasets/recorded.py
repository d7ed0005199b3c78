"""Recorded voices for training: real people reading, from Debian packages that are not reserved for evaluation.

Sources (:data:`SOURCES`, one per package; licences in ``audiolm_lib/datasets/README.md``):

- ``klettres-data``: letters and syllables read by native speakers of about 20 languages (Ogg Vorbis, mostly
  44.1 kHz); one speaker identity per language folder (``klettres:<lang>``).
- ``asterisk-core-sounds-{fr,it,ru}-g722``: June (French), Carlo (Italian) and a Russian voice, telephone prompts
  recorded at 16 kHz and stored as G.722 (decoded in-process by the ``g722`` PyPI package, bit-exact with ffmpeg).
- ``asterisk-prompt-es-co``, ``asterisk-prompt-fr-armelle`` (GSM 6.10, 8 kHz) and ``asterisk-prompt-it-menardi-wav``
  (8 kHz PCM): a Colombian, a French and an Italian voice.

Never read: English and Spanish Asterisk (Allison) and ``pocketsphinx-testdata``, the evaluation voices. Every file
passes :func:`audiolm_lib.datasets.splits.is_evaluation_only` (by *voice folder*, symlinks resolved) before it is
decoded; a source that points at an evaluation folder is refused.

Each clip is decoded, down-mixed, resampled to 16 kHz, trimmed of edge silence (frames more than
:data:`TRIM_TOP_DB` dB below the loudest, ``librosa.effects.trim``: some klettres readers left 1.5 s of room noise
before the syllable) and peak-normalised like the TTS utterances (:func:`audiolm_lib.datasets.tts._trim_and_normalise`);
near-silent clips (RMS under
:data:`SILENT_RMS` before normalising, e.g. the ``silence/`` prompts) and clips under :data:`MIN_CLIP_SECONDS` are
dropped. Clips are mostly 0.5-5 s, shorter than a training crop, so consecutive clips of one identity and split
(in path order) are joined with :data:`GAP_SECONDS` of silence into utterances of at least ``utterance_seconds``:
every utterance is one voice, and the trainer's crops see whole stretches of it.

Splits (:func:`audiolm_lib.datasets.splits.recorded_split`): the identities of
:data:`~audiolm_lib.datasets.splits.RECORDED_VALID_IDENTITIES` are ``"valid"`` as a whole (unseen recorded
voices); of every other identity, a hash-chosen ``valid_fraction`` of clips (by file path) is ``"valid"``.

Layout: ``out_dir/audio/<identity>_<split>_<k>.wav`` and ``out_dir/manifest.jsonl``; entries carry ``speaker`` and
``identity`` (the same), ``language``, ``source`` (the package), ``engine: "recorded"``, ``original_rate`` and
``parts`` (the source files, in order).
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from audiolm_lib.datasets.manifest import MANIFEST_NAME, ManifestError, read_manifest, write_manifest, write_wav
from audiolm_lib.datasets.splits import ASTERISK_SOUNDS, asterisk_voice, is_evaluation_only, recorded_split
from audiolm_lib.datasets.tts import SAMPLE_RATE, _trim_and_normalise

KLETTRES_ROOT = "/usr/share/klettres"
TRIM_TOP_DB = 30.0
SILENT_RMS = 0.003  # about -50 dBFS: a clip quieter than this overall is silence or hum
MIN_CLIP_SECONDS = 0.25
GAP_SECONDS = 0.3
UTTERANCE_SECONDS = 10.0
AUDIO_SUFFIXES = (".g722", ".gsm", ".wav", ".ogg")
SKIPPED_FOLDERS = ("silence",)  # Asterisk's silence/1..9 prompts


@dataclass(frozen=True)
class RecordedSource:
    """One package of recordings.

    Attributes:
        name: the Debian package (what ``--sources`` names).
        root: folder holding the recordings (klettres: the folder of the language folders).
        kind: ``"klettres"`` (identity per language folder) or ``"asterisk"`` (one voice folder; identity from
            :func:`~audiolm_lib.datasets.splits.asterisk_voice`).
        language: the voice's language (klettres: taken from each language folder).
        licence: short licence name (see ``/usr/share/doc/<name>/copyright``).
        tree: the Asterisk sounds tree the voice folder is judged in (tests point it elsewhere).
    """

    name: str
    root: str
    kind: str
    language: str = ""
    licence: str = ""
    tree: str = ASTERISK_SOUNDS

    def installed(self) -> bool:
        return Path(self.root).is_dir()


def _asterisk(package: str, folder: str, language: str, licence: str) -> RecordedSource:
    return RecordedSource(package, f"{ASTERISK_SOUNDS}/{folder}", "asterisk", language, licence)


SOURCES: tuple[RecordedSource, ...] = (
    RecordedSource("klettres-data", KLETTRES_ROOT, "klettres", licence="GPL-2+"),
    _asterisk("asterisk-core-sounds-fr-g722", "fr_CA_f_June", "fr", "CC-BY-SA-3.0"),
    _asterisk("asterisk-core-sounds-it-g722", "it_IT_m_Carlo", "it", "CC-BY-3.0"),
    _asterisk("asterisk-core-sounds-ru-g722", "ru_RU_f_IvrvoiceRU", "ru", "CC-BY-3.0"),
    _asterisk("asterisk-prompt-es-co", "es", "es", "GPL-2"),
    _asterisk("asterisk-prompt-fr-armelle", "fr", "fr", "BSD-style (retain notice)"),
    _asterisk("asterisk-prompt-it-menardi-wav", "it_IT_f_Menardi", "it", "CC-BY-SA-3.0"),
)


@dataclass(frozen=True)
class Clip:
    """One source file: ``path``, speaker ``identity``, ``language``, ``source`` package, ``split``."""

    path: Path
    identity: str
    language: str
    source: str
    split: str


def resolve_sources(names: Sequence[str] | None = None) -> list[RecordedSource]:
    """The sources named (package names; ``None``: all), installed ones only.

    Raises:
        ValueError: an unknown name, or none of the chosen sources is installed.
    """
    known = {source.name: source for source in SOURCES}
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        raise ValueError(f"unknown recorded source(s) {unknown}; known: {sorted(known)}")
    chosen = [known[name] for name in names] if names else list(SOURCES)
    installed = [source for source in chosen if source.installed()]
    if not installed:
        packages = " ".join(source.name for source in chosen)
        raise ValueError(f"none of the recorded sources is installed: `apt-get install {packages}` (bash .ci/install)")
    return installed


def list_clips(source: RecordedSource, valid_fraction: float = 0.05) -> list[Clip]:
    """Every usable recording of ``source`` with its identity and split, in path order.

    Raises:
        ValueError: a file of the source lies in an evaluation-only voice folder (Allison, pocketsphinx, unknown).
    """
    root = Path(source.root)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
                   and not set(p.relative_to(root).parts[:-1]) & set(SKIPPED_FOLDERS))
    clips = []
    for path in files:
        if source.kind == "klettres":
            language = path.relative_to(root).parts[0]
            identity = f"klettres:{language}"
        else:
            folder, identity = asterisk_voice(str(path), source.tree)
            language = source.language
            if identity is None or is_evaluation_only(str(path)):
                raise ValueError(f"{path} is in an evaluation-only voice folder ({folder or path.parent}): "
                                 f"source {source.name!r} may not be trained on")
        clip_id = f"{source.name}/{path.relative_to(root).as_posix()}"
        clips.append(Clip(path, identity, language, source.name, recorded_split(identity, clip_id, valid_fraction)))
    return clips


def read_recording(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode one recording: ``(float32 [T] mono in [-1, 1], sample rate)``.

    ``.g722`` (headerless G.722 at 64 kbit/s, 16 kHz) is decoded by the ``g722`` package; everything else
    (WAV, raw GSM 6.10 at 8 kHz, Ogg Vorbis) by soundfile.
    """
    path = Path(path)
    if path.suffix.lower() == ".g722":
        try:
            import G722  # the PyPI package "g722" (setup.py's data extra)
        except ImportError as exc:
            raise RuntimeError("decoding G.722 needs `pip install g722` (the data extra)") from exc
        pcm = np.asarray(G722.G722(16000, 64000).decode(path.read_bytes()), dtype=np.float32)
        return pcm / 32768.0, 16000
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1).astype(np.float32), int(rate)


def prepare_clip(wave: np.ndarray, rate: int) -> np.ndarray | None:
    """A decoded clip at 16 kHz, edges trimmed, peak-normalised; ``None`` if near-silent or too short."""
    from audiolm_lib.audio import resample

    import librosa

    from audiolm_lib.datasets.tts import EDGE_PAD_SECONDS

    wave = resample(np.asarray(wave, np.float32), rate, SAMPLE_RATE)
    if wave.size == 0 or not np.isfinite(wave).all() or float(np.sqrt(np.mean(wave**2))) < SILENT_RMS:
        return None
    _, (start, end) = librosa.effects.trim(wave, top_db=TRIM_TOP_DB, frame_length=512, hop_length=128)
    pad = int(EDGE_PAD_SECONDS * SAMPLE_RATE)
    wave = _trim_and_normalise(wave[max(0, start - pad) : end + pad])
    return wave if len(wave) >= MIN_CLIP_SECONDS * SAMPLE_RATE else None


def utterances(clips: Sequence[Clip],
               utterance_seconds: float = UTTERANCE_SECONDS) -> Iterator[tuple[list[Clip], np.ndarray]]:
    """Consecutive usable ``clips`` (one identity and split) joined into waves of at least ``utterance_seconds``
    (the last one may be shorter): ``(parts, float32 [T] at 16 kHz)``."""
    parts: list[Clip] = []
    waves: list[np.ndarray] = []
    gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), np.float32)
    for clip in clips:
        wave = prepare_clip(*read_recording(clip.path))
        if wave is None:
            continue
        parts.append(clip)
        waves += [wave, gap]
        if sum(len(w) for w in waves[::2]) + len(gap) * (len(parts) - 1) >= utterance_seconds * SAMPLE_RATE:
            yield parts, np.concatenate(waves[:-1])
            parts, waves = [], []
    if parts:
        yield parts, np.concatenate(waves[:-1])


def build_recorded_dataset(
    out_dir: str | os.PathLike,
    minutes: float | None = None,
    sources: Sequence[str | RecordedSource] | None = None,
    valid_fraction: float = 0.05,
    utterance_seconds: float = UTTERANCE_SECONDS,
    *,
    progress: bool = True,
) -> Path:
    """Decode the recorded voices into 16 kHz utterances under ``out_dir``.

    Args:
        out_dir: output folder (``audio/`` + ``manifest.jsonl``); a folder holding another kind of dataset is
            refused.
        minutes: stop at about this much audio (identities take turns, one utterance each); ``None``: everything.
        sources: package names (or :class:`RecordedSource`); ``None``: every installed source.
        valid_fraction: share of the clips of a training identity held out as ``"valid"`` (hash of the path).
        utterance_seconds: consecutive clips are joined up to at least this length.
        progress: show a tqdm bar.

    Returns:
        Path of ``manifest.jsonl`` (entries described in the module docstring).
    """
    from tqdm.auto import tqdm

    if minutes is not None and minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    if utterance_seconds <= 0:
        raise ValueError(f"utterance_seconds must be positive, got {utterance_seconds}")
    recorded_split("check", "check", valid_fraction)  # validates valid_fraction up front
    names = [s for s in sources or () if isinstance(s, str)]
    chosen = [s for s in sources or () if isinstance(s, RecordedSource)]
    if names or not chosen:
        chosen += resolve_sources(names or None)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    groups: dict[tuple[str, str], list[Clip]] = {}
    for source in chosen:
        for clip in list_clips(source, valid_fraction):
            groups.setdefault((clip.identity, clip.split), []).append(clip)
    streams = [_entries(out_dir, identity, split, clips, utterance_seconds)
               for (identity, split), clips in sorted(groups.items())]
    entries, seconds = [], 0.0
    bar = tqdm(desc="recorded", unit="utt", disable=not progress)
    while streams and (minutes is None or seconds < minutes * 60):
        for stream in list(streams):  # identities take turns
            entry = next(stream, None)
            if entry is None:
                streams.remove(stream)
                continue
            entries.append(entry)
            seconds += entry["duration"]
            bar.update(1)
            if minutes is not None and seconds >= minutes * 60:
                break
    bar.close()
    if not entries:
        raise RuntimeError("no usable recording found in the chosen sources")
    return write_manifest(out_dir / MANIFEST_NAME, entries)


def _entries(out_dir: Path, identity: str, split: str, clips: list[Clip], utterance_seconds: float) -> Iterator[dict]:
    """Write the utterances of one identity and split; yield their manifest entries."""
    slug = identity.replace(":", "-")
    for k, (parts, wave) in zip(itertools.count(), utterances(clips, utterance_seconds)):
        utterance_id = f"{slug}_{split}_{k:04d}"
        write_wav(out_dir / "audio" / f"{utterance_id}.wav", wave, SAMPLE_RATE)
        yield {
            "id": utterance_id,
            "audio": f"audio/{utterance_id}.wav",
            "duration": round(len(wave) / SAMPLE_RATE, 4),
            "sample_rate": SAMPLE_RATE,
            "split": split,
            "speaker": identity,
            "identity": identity,
            "engine": "recorded",
            "language": parts[0].language,
            "source": parts[0].source,
            "original_rate": _original_rate(parts[0].path),
            "parts": [str(part.path) for part in parts],
        }


def _original_rate(path: Path) -> int:
    if path.suffix.lower() == ".g722":
        return 16000
    import soundfile as sf

    return int(sf.info(str(path)).samplerate)


def _check_out_dir(out_dir: Path) -> None:
    """Refuse a folder whose manifest this builder did not write (it would be overwritten)."""
    manifest = out_dir / MANIFEST_NAME
    if not manifest.exists():
        return
    try:
        ours = all(entry.get("engine") == "recorded" for entry in read_manifest(manifest, resolve=False))
    except ManifestError:
        ours = False
    if not ours:
        raise ValueError(f"{out_dir} already holds another dataset ({manifest}); choose an empty folder")
