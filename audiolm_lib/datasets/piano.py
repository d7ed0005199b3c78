"""Embedded piano set: real scores from the ``music21`` corpus rendered as piano with ``tinysoundfont``.

Nothing is downloaded: the corpus ships inside ``music21``, the General MIDI soundfont ``TimGM6mb.sf2`` inside
``pretty_midi`` and ``FluidR3_GM.sf2`` in Debian's ``fluid-soundfont-gm``. Every part of every score is played on
program 0 (acoustic grand piano) at 16 kHz, cut into fixed-length clips. Each piece may be rendered several
times with another tempo, velocity scale, transposition and soundfont (:mod:`audiolm_lib.datasets.piano_variants`,
clips named ``<piece>@<variant>_<k>``).

Splits follow :mod:`audiolm_lib.datasets.splits`, by piece: all clips of all variants of a piece share its split;
the held-out ``"test"`` pieces are not built unless asked for (``splits``), and the held-out soundfont never.

Layout: ``out_dir/audio/<name>_<k>.wav`` + ``out_dir/manifest.jsonl``. Rebuilding with the same arguments
reproduces the same files and skips renderings already made (``out_dir/.progress/<name>.json``; parsed notes
are kept in ``out_dir/.progress/notes/``, so a new variant of a piece does not parse the score again).
"""
from __future__ import annotations

import collections
import contextlib
import functools
import json
import os
import random
import re
import signal
import threading
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from audiolm_lib.datasets.manifest import MANIFEST_NAME, atomic_write_text, write_manifest, write_wav
from audiolm_lib.datasets.piano_variants import Variant, VariantSpec, soundfont_file
from audiolm_lib.datasets.splits import (PIECE_TEST_FRACTION, SPLITS, VALIDATION_SOUNDFONT, base_piece_name, hash_position,
                                         piece_split)

SAMPLE_RATE = 16000
SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")
# folders of the corpus that hold exercises or demo fragments rather than pieces
SKIPPED_FOLDERS = ("demos", "theoryExercises")
RELEASE_SECONDS = 1.0  # let the last notes ring out
PEAK = 0.9
KRN_COST = 20  # humdrum parses ~20x slower per byte than MusicXML
BUILD_SPLITS = ("train", "valid")  # what a build makes unless told otherwise: never the held-out pieces


class ParseTimeout(BaseException):
    """A score took longer than the build's per-piece time limit to parse (a BaseException, so that music21's
    own ``except Exception`` handlers cannot swallow it)."""


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
def soundfont_path(name: str | None = None) -> Path:
    """The ``.sf2`` file of soundfont ``name``: ``"TimGM6mb"`` (default, shipped with ``pretty_midi``),
    ``"FluidR3_GM"`` or the held-out ``"sf_GMbank"`` (see :func:`audiolm_lib.datasets.piano_variants.soundfont_file`)."""
    return soundfont_file(name)


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
def render_notes(notes: list[NoteEvent], sample_rate: int = SAMPLE_RATE, soundfont: Path | str | None = None) -> np.ndarray:
    """Play ``notes`` on program 0 (acoustic grand piano) of ``soundfont`` (an ``.sf2`` path, a soundfont name
    such as ``"FluidR3_GM"``, or ``None`` for TimGM6mb).

    Returns:
        float32 ``[T]`` mono audio, peak-normalised to 0.9 (all zeros if nothing sounds).
    """
    import tinysoundfont

    if isinstance(soundfont, str) and os.sep not in soundfont and not soundfont.endswith(".sf2"):
        soundfont = soundfont_path(soundfont)  # a soundfont name such as "FluidR3_GM"
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
    valid_fraction: float | None = None,
    *,
    max_seconds_per_piece: float = 20.0,
    max_pieces: int | None = None,
    max_score_mb: float | None = 1.0,
    variants: VariantSpec | int = 1,
    parse_timeout: float | None = 120.0,
    splits: tuple[str, ...] | list[str] = BUILD_SPLITS,
    workers: int = 2,
    progress: bool = True,
) -> Path:
    """Render about ``minutes`` of piano from the music21 corpus into ``out_dir``.

    Args:
        out_dir: output folder (``audio/`` + ``manifest.jsonl``); created if needed.
        minutes: audio to render, in minutes (stops after the piece that reaches it).
        clip_seconds: length of each clip (the last clip of a piece may be down to half of it).
        seed: picks and orders the pieces (composers interleaved), the unmarked velocities and the variants.
        valid_fraction: ``None``: the split policy's pieces (:func:`audiolm_lib.datasets.splits.piece_split`);
            a number: that share of the non-held-out pieces is ``"valid"`` instead (held-out pieces stay held out).
        max_seconds_per_piece: only the first seconds of each rendering are used, so more pieces fit.
        max_pieces: stop after this many pieces (tests).
        max_score_mb: skip scores larger than this (slow to parse); ``None`` keeps all.
        variants: renderings per piece: a count of plain renderings (1) or a :class:`VariantSpec` (tempo,
            velocity, transposition, soundfonts).
        parse_timeout: give up on a score that takes longer than this many seconds to parse (``None``: no limit).
        splits: splits to build; the held-out ``"test"`` pieces only when listed.
        workers: processes parsing and rendering pieces (1: all in this process).
        progress: show a tqdm bar.

    Returns:
        Path of ``manifest.jsonl``. Entries: ``{"id", "audio", "duration", "sample_rate", "split", "piece",
        "rendering", "variant", "soundfont"}``: ``piece`` is the piece's name, ``rendering`` the variant's
        (``<piece>@<variant>``; the plain rendering is the piece's own name) and ``variant`` its settings.
    """
    from tqdm.auto import tqdm

    if minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    if clip_seconds <= 0:
        raise ValueError(f"clip_seconds must be positive, got {clip_seconds}")
    if valid_fraction is not None and not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    if not splits or set(splits) - set(SPLITS):
        raise ValueError(f"splits must be a non-empty subset of {list(SPLITS)}, got {list(splits)}")
    spec = variants if isinstance(variants, VariantSpec) else VariantSpec(count=int(variants))
    if VALIDATION_SOUNDFONT in spec.soundfonts and set(splits) != {"valid"}:
        raise ValueError(f"soundfont {VALIDATION_SOUNDFONT} plays validation pieces only: build splits ('valid',) "
                         f"(audiolm data piano --valid-only), got {list(splits)}")
    fonts = {name: soundfont_file(name) for name in spec.soundfonts}  # fails early if one is not installed
    out_dir = Path(out_dir)
    (out_dir / "audio").mkdir(parents=True, exist_ok=True)
    (out_dir / ".progress" / "notes").mkdir(parents=True, exist_ok=True)
    settings = ClipSettings(float(clip_seconds), float(max_seconds_per_piece), int(seed))
    target_seconds, total_seconds = minutes * 60.0, 0.0
    entries: list[dict] = []
    failed: list[str] = []
    pieces = [(n, p) for n, p in list_pieces(seed, max_score_mb) if piece_split_for(n, valid_fraction) in splits]
    pieces = pieces[:max_pieces]
    jobs = ((name, path, out_dir, settings, spec, fonts, valid_fraction, parse_timeout) for name, path in pieces)
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
            bar.set_postfix(pieces=count + 1, clips=len(entries), skipped=len(failed))
            if total_seconds >= target_seconds:
                break
    bar.close()
    if not entries:
        raise ValueError(f"no piano audio rendered; failures: {failed[:5]}")
    if failed and progress:
        tqdm.write(f"piano: skipped {len(failed)} score(s) (unreadable or over the parse time limit), e.g. {failed[0]}")
    return write_manifest(out_dir / MANIFEST_NAME, entries)


def piece_split_for(name: str, valid_fraction: float | None = None) -> str:
    """The split of piece (or variant) ``name``: :func:`~audiolm_lib.datasets.splits.piece_split`, or with
    ``valid_fraction`` that share of the pieces it does not hold out as ``"valid"``."""
    split = piece_split(name)
    if valid_fraction is None or split == "test":
        return split
    position = (hash_position(base_piece_name(name)) - PIECE_TEST_FRACTION) / (1.0 - PIECE_TEST_FRACTION)
    return "valid" if position < valid_fraction else "train"


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


def _piece_job(name, path, out_dir, settings: ClipSettings, spec: VariantSpec, fonts, valid_fraction,
               parse_timeout) -> tuple[str, list[dict], str | None]:
    """Render every variant of one piece (or reuse an earlier build's): ``(name, entries, error or None)``."""
    piece_entries: list[dict] = []
    notes: list[NoteEvent] | None = None
    for variant in spec.variants(name, settings.seed):
        variant_name = name + variant.suffix()
        record_path = out_dir / ".progress" / f"{variant_name}.json"
        done = _load_done(record_path, settings, out_dir, variant)
        if done is None:
            if notes is None:
                notes, error = _piece_notes(name, path, out_dir, settings, spec, parse_timeout)
                if error:
                    return name, [], error
            rendered = _render_variant(variant_name, variant, notes, out_dir, settings, fonts[variant.soundfont])
            record = {"settings": asdict(settings), "variant": asdict(variant), "entries": rendered, "error": None}
            atomic_write_text(record_path, json.dumps(record) + "\n")
            done = rendered, None
        for entry in done[0]:
            entry["split"] = piece_split_for(name, valid_fraction)
        piece_entries.extend(done[0])
    return name, piece_entries, None


def _piece_notes(name, path, out_dir, settings: ClipSettings, spec: VariantSpec, parse_timeout):
    """``(notes, error)``: the piece's opening notes, long enough for its slowest variant; parsed once (kept in
    ``.progress/notes``), within ``parse_timeout`` seconds."""
    note_seed = settings.seed * 1_000_003 + zlib.crc32(name.encode("utf-8"))
    seconds = settings.max_seconds_per_piece * spec.tempo[1]
    key = {"seconds": seconds, "note_seed": note_seed, "size": score_size(path), "version": 1}
    cache = out_dir / ".progress" / "notes" / f"{name}.json"
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached["key"] == key:
            if cached["error"] is None:
                return [NoteEvent(*n) for n in cached["notes"]], None
            if cached.get("timeout") is None or (parse_timeout is not None and parse_timeout <= cached["timeout"]):
                return None, cached["error"]  # the same failure again (a timeout is retried with a longer limit)
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        pass
    timeout = None
    try:
        with _time_limit(parse_timeout):
            notes, error = score_notes(path, max_seconds=seconds, seed=note_seed), None
    except ParseTimeout:
        notes, error, timeout = None, f"parsing took over {parse_timeout:g} s (parse_timeout)", parse_timeout
    except Exception as exc:  # a score music21 cannot read is skipped, and said so
        notes, error = None, f"{type(exc).__name__}: {exc}"
    stored = [[n.start, n.end, n.key, n.velocity] for n in notes] if notes is not None else None
    atomic_write_text(cache, json.dumps({"key": key, "notes": stored, "error": error, "timeout": timeout}) + "\n")
    return notes, error


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """Raise :class:`ParseTimeout` in this block after ``seconds`` (a SIGALRM timer: main thread, POSIX only;
    elsewhere no limit)."""
    usable = seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise ParseTimeout(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


def _render_variant(name: str, variant: Variant, notes: list[NoteEvent], out_dir: Path, settings: ClipSettings,
                    font: Path) -> list[dict]:
    played = variant.apply(notes, max_seconds=settings.max_seconds_per_piece)
    if not played:
        return []
    wave = render_notes(played, settings.sample_rate, font)
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
                "split": piece_split(name),
                "piece": base_piece_name(name),
                "rendering": name,
                "variant": asdict(variant),
                "soundfont": variant.soundfont,
            }
        )
    return entries


def _load_done(record_path: Path, settings: ClipSettings, out_dir: Path, variant: Variant) -> tuple[list[dict], str | None] | None:
    """``(entries, error)`` of a rendering an earlier build made with the same settings (all its files present)."""
    if not record_path.exists():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("settings") != asdict(settings) or record.get("variant", asdict(Variant())) != asdict(variant):
        return None
    entries = record.get("entries", [])
    if not all((out_dir / e["audio"]).exists() for e in entries):
        return None
    return entries, record.get("error")
