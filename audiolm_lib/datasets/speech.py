"""Embedded speech set: several distinct synthetic speakers reading seeded English sentences.

Voices come from offline TTS engines installed by ``.ci/install`` (apt): ``espeak-ng`` voice variants,
``flite`` voices and ``festival`` voices (through ``text2wave``). Every utterance is resampled to 16 kHz mono,
trimmed of edge silence, peak-normalised, and saved with its transcript beside it (``.txt``) and in the
manifest (for WER).

Layout: ``out_dir/audio/<speaker>_<k>.wav`` (+ ``.txt``) and ``out_dir/manifest.jsonl``. Rebuilding with the
same arguments gives the same files and skips utterances already synthesised.
"""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from audiolm_lib.datasets.manifest import MANIFEST_NAME, stable_split, write_manifest
from audiolm_lib.datasets.sentences import sentence_at

SAMPLE_RATE = 16000
PEAK = 0.9
SILENCE_THRESHOLD = 0.01  # of full scale, for trimming the edges
EDGE_PAD_SECONDS = 0.1


@dataclass(frozen=True)
class Voice:
    """A TTS voice: ``engine`` is ``"espeak"``, ``"flite"`` or ``"festival"``; ``voice`` is the engine's own name."""

    name: str
    engine: str
    voice: str


VOICES: tuple[Voice, ...] = (
    Voice("espeak_us_m3", "espeak", "en-us+m3"),
    Voice("espeak_en_f2", "espeak", "en+f2"),
    Voice("espeak_gb_m1", "espeak", "en-gb+m1"),
    Voice("espeak_us_f4", "espeak", "en-us+f4"),
    Voice("espeak_scotland_m7", "espeak", "en-gb-scotland+m7"),
    Voice("espeak_caribbean_f3", "espeak", "en-029+f3"),
    Voice("espeak_rp_m5", "espeak", "en-gb-x-rp+m5"),
    Voice("flite_rms", "flite", "rms"),
    Voice("flite_awb", "flite", "awb"),
    Voice("flite_slt", "flite", "slt"),
    Voice("festival_slt_hts", "festival", "voice_cmu_us_slt_arctic_hts"),
    Voice("festival_kal", "festival", "voice_kal_diphone"),
    Voice("festival_ked", "festival", "voice_ked_diphone"),
)
FESTIVAL_ROOTS = ("/usr/share/festival", "/usr/local/share/festival", "/usr/lib/festival")
ENGINE_PROGRAMS = {"espeak": "espeak-ng", "flite": "flite", "festival": "text2wave"}


def available_voices() -> list[Voice]:
    """The voices of :data:`VOICES` whose engine, and voice data where it is separate, are installed."""
    return [v for v in VOICES if shutil.which(ENGINE_PROGRAMS[v.engine]) and _voice_data_installed(v)]


def _voice_data_installed(voice: Voice) -> bool:
    if voice.engine == "festival":  # each voice is its own apt package: /usr/share/festival/voices/<lang>/<name>
        name = voice.voice.removeprefix("voice_")
        return any(Path(root).glob(f"voices/*/{name}") for root in FESTIVAL_ROOTS)
    if voice.engine == "flite":
        listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=30).stdout
        return voice.voice in listed.split()
    return True


def resolve_voices(speakers: Sequence[str] | int | None) -> list[Voice]:
    """Pick voices by name (see :data:`VOICES`), the first ``n`` installed ones, or all installed (``None``)."""
    installed = available_voices()
    if speakers is None or isinstance(speakers, int):
        if not installed:
            raise ValueError("no TTS engine found: install espeak-ng, flite or festival (bash .ci/install)")
        chosen = installed if speakers is None else installed[:speakers]
        if isinstance(speakers, int) and (speakers < 1 or speakers > len(installed)):
            raise ValueError(f"speakers must be between 1 and {len(installed)} (installed voices), got {speakers}")
        return chosen
    by_name = {v.name: v for v in VOICES}
    voices = []
    for name in speakers:
        if name not in by_name:
            raise ValueError(f"unknown speaker {name!r}; known: {', '.join(by_name)}")
        voice = by_name[name]
        if voice not in installed:
            raise ValueError(f"speaker {name!r} needs {ENGINE_PROGRAMS[voice.engine]!r} with voice {voice.voice!r}, "
                             "which is not installed (bash .ci/install)")
        voices.append(voice)
    if len(set(voices)) != len(voices):
        raise ValueError(f"speakers listed twice: {list(speakers)}")
    if not voices:
        raise ValueError("no speakers given")
    return voices


# --------------------------------------------------------------------------------------------- synthesis
def synthesize(voice: Voice, text: str, rate_scale: float = 1.0) -> np.ndarray:
    """Speak ``text`` with ``voice``; ``rate_scale`` > 1 speaks faster.

    Returns:
        float32 ``[T]`` mono at 16 kHz, edge silence trimmed, peak-normalised to 0.9.
    """
    from audiolm_lib.audio import AudioError, load_audio

    with tempfile.TemporaryDirectory(prefix="audiolm_tts_") as tmp:
        wav = Path(tmp) / "out.wav"
        if voice.engine == "espeak":
            command = ["espeak-ng", "-v", voice.voice, "-s", str(int(round(165 * rate_scale))), "-w", str(wav), text]
        elif voice.engine == "flite":
            stretch = f"duration_stretch={1.0 / rate_scale:.3f}"
            command = ["flite", "-voice", voice.voice, "--setf", stretch, "-t", text, "-o", str(wav)]
        elif voice.engine == "festival":
            text_file = Path(tmp) / "text.txt"
            text_file.write_text(text + "\n", encoding="utf-8")
            command = ["text2wave", "-eval", f"({voice.voice})", str(text_file), "-o", str(wav)]
        else:
            raise ValueError(f"unknown TTS engine {voice.engine!r}")
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0 or not wav.exists():
            raise RuntimeError(f"{command[0]} failed for voice {voice.name}: {result.stderr.strip()[-300:]}")
        try:
            wave = load_audio(wav, sample_rate=SAMPLE_RATE)[0].numpy()
        except AudioError as exc:
            raise RuntimeError(f"{command[0]} wrote unusable audio for voice {voice.name}: {exc}") from exc
    return _trim_and_normalise(wave)


def _trim_and_normalise(wave: np.ndarray) -> np.ndarray:
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    if peak == 0.0:
        raise RuntimeError("TTS produced silence")
    loud = np.flatnonzero(np.abs(wave) > SILENCE_THRESHOLD * peak)
    pad = int(EDGE_PAD_SECONDS * SAMPLE_RATE)
    wave = wave[max(0, loud[0] - pad) : loud[-1] + 1 + pad]
    return (wave * (PEAK / peak)).astype(np.float32)


# --------------------------------------------------------------------------------------------- builder
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
) -> Path:
    """Synthesise about ``minutes`` of speech, shared evenly between ``speakers``, into ``out_dir``.

    Args:
        out_dir: output folder (``audio/`` + ``manifest.jsonl``); created if needed.
        minutes: total audio, in minutes (utterances are made round by round, one per speaker per round).
        speakers: voice names from :data:`VOICES`, a count (first ``n`` installed voices) or ``None`` (all installed).
        seed: the sentences and the per-utterance speaking rates.
        valid_fraction: share of utterances held out as ``"valid"``, by a hash of the utterance id.
        max_utterances_per_speaker: stop after this many utterances per speaker (tests).
        workers: TTS processes run at once.
        progress: show a tqdm bar.

    Returns:
        Path of ``manifest.jsonl``. Entries: ``{"id", "audio", "duration", "sample_rate", "split", "speaker", "text"}``.
    """
    from tqdm.auto import tqdm

    if minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    stable_split("check", valid_fraction)
    voices = resolve_voices(speakers)
    out_dir = Path(out_dir)
    (out_dir / "audio").mkdir(parents=True, exist_ok=True)
    target_seconds, total_seconds = minutes * 60.0, 0.0
    entries: list[dict] = []
    bar = tqdm(total=round(target_seconds), unit="s", desc="speech", disable=not progress)
    round_index = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while total_seconds < target_seconds:
            if max_utterances_per_speaker is not None and round_index >= max_utterances_per_speaker:
                break
            jobs = [_job(out_dir, voice, v_index, round_index, len(voices), seed, valid_fraction) for v_index, voice in enumerate(voices)]
            for entry in pool.map(_make_utterance, jobs):
                entries.append(entry)
                total_seconds += entry["duration"]
                bar.update(min(round(entry["duration"]), max(0, bar.total - bar.n)))
            bar.set_postfix(utterances=len(entries))
            round_index += 1
    bar.close()
    return write_manifest(out_dir / MANIFEST_NAME, entries)


def _job(out_dir: Path, voice: Voice, voice_index: int, round_index: int, n_voices: int, seed: int, valid_fraction: float) -> dict:
    utterance_id = f"{voice.name}_{round_index:05d}"
    # every speaker reads different sentences: sentence numbers interleave the voices
    text = sentence_at(round_index * n_voices + voice_index, seed)
    rate_scale = random.Random(f"{seed}:{utterance_id}:rate").uniform(0.9, 1.1)
    return {
        "out_dir": out_dir,
        "voice": voice,
        "rate_scale": rate_scale,
        "entry": {
            "id": utterance_id,
            "audio": f"audio/{utterance_id}.wav",
            "duration": 0.0,
            "sample_rate": SAMPLE_RATE,
            "split": stable_split(utterance_id, valid_fraction),
            "speaker": voice.name,
            "text": text,
        },
    }


def _make_utterance(job: dict) -> dict:
    """Synthesise one utterance unless a previous build left the same one (same text) on disk."""
    import soundfile as sf

    from audiolm_lib.audio import save_audio
    from audiolm_lib.serialization import atomic_write_text

    entry = dict(job["entry"])
    wav_path = job["out_dir"] / entry["audio"]
    txt_path = wav_path.with_suffix(".txt")
    if wav_path.exists() and txt_path.exists() and txt_path.read_text(encoding="utf-8").strip() == entry["text"]:
        try:
            info = sf.info(str(wav_path))
            if info.samplerate == SAMPLE_RATE and info.frames > 0:
                entry["duration"] = round(info.frames / info.samplerate, 4)
                return entry
        except Exception:  # unreadable leftover: synthesise it again
            pass
    txt_path.unlink(missing_ok=True)  # the transcript is written last: it marks a finished utterance
    wave = synthesize(job["voice"], entry["text"], job["rate_scale"])
    save_audio(wav_path, wave[None], SAMPLE_RATE)
    atomic_write_text(txt_path, entry["text"] + "\n")
    entry["duration"] = round(len(wave) / SAMPLE_RATE, 4)
    return entry
