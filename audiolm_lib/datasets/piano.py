"""Embedded piano set: real scores from the ``music21`` corpus rendered as piano with ``tinysoundfont``.

Nothing is downloaded: the corpus ships inside ``music21`` and the General MIDI soundfont ``TimGM6mb.sf2``
inside ``pretty_midi``. Every part of every score is played on program 0 (acoustic grand piano) at 16 kHz,
cut into fixed-length clips, and split train/valid by a hash of the piece name (all clips of a piece share
a split, so validation pieces are unseen).

Layout: ``out_dir/audio/<piece>_<k>.wav`` + ``out_dir/manifest.jsonl``. Rebuilding with the same arguments
reproduces the same files and skips pieces already rendered (``out_dir/.progress/<piece>.json``).
"""
from __future__ import annotations

import collections
import contextlib
import functools
import json
import os
import random
import re
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from audiolm_lib.datasets.manifest import MANIFEST_NAME, atomic_write_text, stable_split, write_manifest, write_wav

SAMPLE_RATE = 16000
SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")
# folders of the corpus that hold exercises or demo fragments rather than pieces
SKIPPED_FOLDERS = ("demos", "theoryExercises")
RELEASE_SECONDS = 1.0  # let the last notes ring out
PEAK = 0.9
KRN_COST = 20  # humdrum parses ~20x slower per byte than MusicXML


@dataclass(frozen=True)
class NoteEvent:
    """One note to play: onset and offset in seconds, MIDI key (0-127) and velocity (1-127)."""

    start: float
    end: float
    key: int
    velocity: int


@dataclass(frozen=True)
class ClipSettings:
    """What a rendered piece depends on; a change re-renders the piece on the next build."""

    clip_seconds: float
    max_seconds_per_piece: float
    seed: int = 0  # velocities of unmarked notes depend on it
    sample_rate: int = SAMPLE_RATE
    version: int = 2


# --------------------------------------------------------------------------------------------- corpus
def soundfont_path() -> Path:
    """The General MIDI soundfont shipped with ``pretty_midi``."""
    import pretty_midi

    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.exists():
        raise FileNotFoundError(f"soundfont not found at {path}: reinstall pretty_midi (pip install pretty_midi)")
    return path


def list_pieces(seed: int = 0, max_score_mb: float | None = 1.0) -> list[tuple[str, Path]]:
    """All corpus scores as ``(piece name, path)``, in a seeded order that interleaves composers.

    Palestrina alone is two thirds of the corpus; taking composers in turn keeps even a small build varied.
    Scores over ``max_score_mb`` (see :func:`score_size`) are left out: music21 needs about 10 s per MB to
    parse them (a whole Beethoven quartet takes minutes) and only their first seconds would be used.
    """
    by_folder: dict[str, list[tuple[str, Path]]] = {}
    seen: set[str] = set()
    for folder, name, path, size in _corpus_scores():
        if name in seen:  # the same piece in two formats (.mxl and .krn): one name, one entry
            continue
        seen.add(name)
        if max_score_mb is None or size <= max_score_mb * 1e6:
            by_folder.setdefault(folder, []).append((name, path))
    rng = random.Random(seed)
    queues = []
    for folder in sorted(by_folder):
        items = by_folder[folder]
        rng.shuffle(items)
        queues.append(items)
    rng.shuffle(queues)
    ordered: list[tuple[str, Path]] = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return ordered


@functools.lru_cache(maxsize=1)
def _corpus_scores() -> tuple[tuple[str, str, Path, int], ...]:
    """``(folder, piece name, path, size in bytes)`` of every usable score in the music21 corpus, sorted by path."""
    import music21

    root = Path(music21.__file__).parent / "corpus"
    found, names = [], set()
    for path in sorted(Path(p) for p in music21.corpus.getPaths()):
        if path.suffix.lower() not in SCORE_SUFFIXES:
            continue
        relative = path.relative_to(root).as_posix()
        folder = relative.split("/", 1)[0]
        if folder in SKIPPED_FOLDERS:
            continue
        name = piece_name(relative)
        if name in names:  # the same work in two formats (movement3.krn + movement3.mxl): keep both, apart
            name = f"{name}_{path.suffix.lstrip('.').lower()}"
        names.add(name)
        found.append((folder, name, path, score_size(path)))
    return tuple(found)


def score_size(path: Path) -> int:
    """Parse cost of a score in MusicXML-equivalent bytes (what ``max_score_mb`` bounds).

    ``.mxl`` files are zip archives: their uncompressed size. Humdrum (``.krn``) parses about 20x slower per
    byte than MusicXML in music21, so it counts 20x.
    """
    suffix = path.suffix.lower()
    if suffix == ".mxl":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    return path.stat().st_size * (KRN_COST if suffix == ".krn" else 1)


def piece_name(relative_path: str) -> str:
    """``"bach/bwv66.6.mxl"`` -> ``"bach_bwv66.6"`` (safe as a file name)."""
    stem = relative_path.rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9.\-]+", "_", stem).strip("_")


def score_notes(path: Path, max_seconds: float | None = None, seed: int = 0) -> list[NoteEvent]:
    """Parse a score and list its notes in seconds (tempo marks honoured; ties merged).

    Velocities come from the score when marked, else 80 with a small seeded variation (+-8) so the
    rendering is not mechanically flat.
    """
    import music21

    score = music21.converter.parse(str(path))
    if isinstance(score, music21.stream.Opus):
        score = score.scores[0]
    flat = score.stripTies().flatten()
    for mark in list(flat.getElementsByClass(music21.tempo.MetronomeMark)):
        if mark.getQuarterBPM() is None:  # a tempo word without a number: keep the previous tempo
            flat.remove(mark)
    rng = random.Random(seed)
    notes: list[NoteEvent] = []
    for item in flat.secondsMap:
        element = item["element"]
        if not isinstance(element, (music21.note.Note, music21.chord.Chord)):
            continue
        start, duration = float(item["offsetSeconds"]), float(item["durationSeconds"])
        if max_seconds is not None and start >= max_seconds:
            continue
        if duration <= 0:
            continue  # grace notes
        if max_seconds is not None:
            duration = min(duration, max_seconds - start)  # a cut piece ends with a natural release
        velocity = element.volume.velocity
        if velocity is None:
            velocity = 80 + rng.randint(-8, 8)
        pitches = element.pitches if isinstance(element, music21.chord.Chord) else (element.pitch,)
        for pitch in pitches:
            key = int(pitch.midi)
            if 0 <= key <= 127:
                notes.append(NoteEvent(start, start + duration, key, int(np.clip(velocity, 1, 127))))
    return notes


# --------------------------------------------------------------------------------------------- render
def render_notes(notes: list[NoteEvent], sample_rate: int = SAMPLE_RATE, soundfont: Path | None = None) -> np.ndarray:
    """Play ``notes`` on program 0 (acoustic grand piano).

    Returns:
        float32 ``[T]`` mono audio, peak-normalised to 0.9 (all zeros if nothing sounds).
    """
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=sample_rate, gain=-6.0)
    font = synth.sfload(str(soundfont or soundfont_path()))
    synth.program_select(0, font, 0, 0)
    # note-offs sort before note-ons at the same instant, so a repeated key is re-struck, not cut
    events = sorted(
        [(n.start, 1, n.key, n.velocity) for n in notes] + [(n.end, 0, n.key, 0) for n in notes],
        key=lambda e: (e[0], e[1], e[2]),
    )
    end = (max(n.end for n in notes) if notes else 0.0) + RELEASE_SECONDS
    total = int(round(end * sample_rate))
    chunks, position = [], 0
    for time, is_on, key, velocity in events:
        target = min(int(round(time * sample_rate)), total)
        if target > position:
            chunks.append(_generate(synth, target - position))
            position = target
        if is_on:
            synth.noteon(0, key, velocity)
        else:
            synth.noteoff(0, key)
    if total > position:
        chunks.append(_generate(synth, total - position))
    wave = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    return (wave * (PEAK / peak)).astype(np.float32) if peak > 0 else wave.astype(np.float32)


def _generate(synth, samples: int) -> np.ndarray:
    stereo = np.frombuffer(synth.generate(samples), dtype=np.float32).reshape(-1, 2)
    return stereo.mean(axis=1)


def split_clips(wave: np.ndarray, clip_samples: int, min_rms: float = 0.01) -> list[np.ndarray]:
    """Cut ``wave[T]`` into clips of ``clip_samples``; a short tail (< half a clip) and near-silent clips (RMS under ``min_rms``) are dropped."""
    clips = []
    for start in range(0, len(wave), clip_samples):
        clip = wave[start : start + clip_samples]
        if len(clip) < clip_samples // 2:
            break
        if float(np.sqrt(np.mean(clip**2))) >= min_rms:
            clips.append(clip)
    return clips


# --------------------------------------------------------------------------------------------- builder
def build_piano_dataset(
    out_dir: str | os.PathLike,
    minutes: float = 30.0,
    clip_seconds: float = 10.0,
    seed: int = 0,
    valid_fraction: float = 0.1,
    *,
    max_seconds_per_piece: float = 20.0,
    max_pieces: int | None = None,
    max_score_mb: float | None = 1.0,
    workers: int = 2,
    progress: bool = True,
) -> Path:
    """Render about ``minutes`` of piano from the music21 corpus into ``out_dir``.

    Args:
        out_dir: output folder (``audio/`` + ``manifest.jsonl``); created if needed.
        minutes: audio to render, in minutes (stops after the piece that reaches it).
        clip_seconds: length of each clip (the last clip of a piece may be down to half of it).
        seed: picks and orders the pieces (composers interleaved) and the unmarked velocities.
        valid_fraction: share of pieces (not clips) held out as ``"valid"``, by a hash of the piece name.
        max_seconds_per_piece: only the first seconds of each piece are used, so more pieces fit.
        max_pieces: stop after this many pieces (tests).
        max_score_mb: skip scores larger than this (slow to parse); ``None`` keeps all.
        workers: processes parsing and rendering pieces (1: all in this process).
        progress: show a tqdm bar.

    Returns:
        Path of ``manifest.jsonl``. Entries: ``{"id", "audio", "duration", "sample_rate", "split", "piece"}``.
    """
    from tqdm.auto import tqdm

    if minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    if clip_seconds <= 0:
        raise ValueError(f"clip_seconds must be positive, got {clip_seconds}")
    stable_split("check", valid_fraction)  # validates valid_fraction up front
    out_dir = Path(out_dir)
    audio_dir, progress_dir = out_dir / "audio", out_dir / ".progress"
    audio_dir.mkdir(parents=True, exist_ok=True)
    progress_dir.mkdir(exist_ok=True)
    settings = ClipSettings(float(clip_seconds), float(max_seconds_per_piece), int(seed))
    font = soundfont_path()
    target_seconds, total_seconds = minutes * 60.0, 0.0
    entries: list[dict] = []
    failed: list[str] = []
    pieces = list_pieces(seed, max_score_mb)[:max_pieces]
    jobs = ((name, path, out_dir, settings, seed, valid_fraction, font) for name, path in pieces)
    bar = tqdm(total=round(target_seconds), unit="s", desc="piano", disable=not progress)
    with _piece_runner(workers) as run:
        for count, (name, piece_entries, error) in enumerate(run(jobs)):
            if error:
                failed.append(f"{name}: {error}")
                continue
            entries.extend(piece_entries)
            seconds = sum(e["duration"] for e in piece_entries)
            total_seconds += seconds
            bar.update(min(round(seconds), max(0, bar.total - bar.n)))
            bar.set_postfix(pieces=count + 1, clips=len(entries))
            if total_seconds >= target_seconds:
                break
    bar.close()
    if not entries:
        raise ValueError(f"no piano audio rendered; failures: {failed[:5]}")
    if failed and progress:
        tqdm.write(f"piano: skipped {len(failed)} unreadable score(s), e.g. {failed[0]}")
    return write_manifest(out_dir / MANIFEST_NAME, entries)


@contextlib.contextmanager
def _piece_runner(workers: int):
    """Yield ``run(jobs) -> iterator of results, in job order``; in this process or in ``workers`` processes.

    At most ``2 * workers`` pieces are in flight, so stopping early wastes little; a piece rendered but not
    needed stays on disk (with its record) for a later, larger build.
    """
    if workers <= 1:
        yield lambda jobs: (_piece_job(*job) for job in jobs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the parent may hold torch / OpenMP threads that a forked child would deadlock on
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:

        def run(jobs):
            pending = collections.deque()
            for job in jobs:
                pending.append(pool.submit(_piece_job, *job))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

        try:
            yield run
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _piece_job(name, path, out_dir, settings: ClipSettings, seed, valid_fraction, font) -> tuple[str, list[dict], str | None]:
    """Render one piece (or reuse an earlier build's): ``(name, entries, error or None)``."""
    record_path = out_dir / ".progress" / f"{name}.json"
    done = _load_done(record_path, settings, out_dir)
    if done is not None:
        piece_entries, error = done
    else:
        try:
            piece_entries, error = _render_piece(name, path, out_dir, settings, seed, valid_fraction, font), None
        except Exception as exc:  # a score music21 cannot read is skipped, and said so
            piece_entries, error = [], f"{type(exc).__name__}: {exc}"
        record = {"settings": asdict(settings), "entries": piece_entries, "error": error}
        atomic_write_text(record_path, json.dumps(record) + "\n")
    for entry in piece_entries:
        entry["split"] = stable_split(name, valid_fraction)
    return name, piece_entries, error


def _render_piece(name, path, out_dir, settings: ClipSettings, seed, valid_fraction, font) -> list[dict]:
    note_seed = seed * 1_000_003 + zlib.crc32(name.encode("utf-8"))
    notes = score_notes(path, max_seconds=settings.max_seconds_per_piece, seed=note_seed)
    if not notes:
        return []
    wave = render_notes(notes, settings.sample_rate, font)
    wave = wave[: int((settings.max_seconds_per_piece + RELEASE_SECONDS) * settings.sample_rate)]
    clips = split_clips(wave, int(round(settings.clip_seconds * settings.sample_rate)))
    entries = []
    for k, clip in enumerate(clips):
        relative = f"audio/{name}_{k:03d}.wav"
        write_wav(out_dir / relative, clip, settings.sample_rate)
        entries.append(
            {
                "id": f"{name}_{k:03d}",
                "audio": relative,
                "duration": round(len(clip) / settings.sample_rate, 4),
                "sample_rate": settings.sample_rate,
                "split": stable_split(name, valid_fraction),
                "piece": name,
            }
        )
    return entries


def _load_done(record_path: Path, settings: ClipSettings, out_dir: Path) -> tuple[list[dict], str | None] | None:
    """``(entries, error)`` of a piece an earlier build handled with the same settings (all its files present)."""
    if not record_path.exists():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("settings") != asdict(settings):
        return None
    entries = record.get("entries", [])
    if not all((out_dir / e["audio"]).exists() for e in entries):
        return None
    return entries, record.get("error")
