"""One split policy for every builder, trainer and benchmark: which speakers and pieces are never trained on.

Three splits, decided by name alone (SHA-1 of the name, never Python's salted ``hash``), so a voice or a piece
keeps its split across machines, dataset sizes and runs:

- ``"test"``: held out from *every* training run (codec, tokenizer, stages) and from early stopping; the quality
  benchmark (``bench/quality.py``) measures on it. Speech: whole speaker identities; piano: whole pieces.
- ``"valid"``: unseen pieces / unseen utterances of training speakers, for validation loss and early stopping.
- ``"train"``: the rest.

A speaker *identity* is the human (or synthetic voice) behind a voice, not the engine: flite's ``slt`` and
festival's ``cmu_us_slt_arctic_hts`` are the same woman, so both are held out together. For espeak-ng the
identity is the voice variant (``+m3``, ``+f2``: pitch and formants), whatever the accent.

Real recordings: ``pocketsphinx-testdata`` (the LibriVox reader) is evaluation-only as a whole. Under
``/usr/share/asterisk/sounds`` several packages share one tree, so the policy goes by *voice folder*
(:func:`asterisk_voice`): the folders of :data:`ASTERISK_TRAINING_VOICES` (June, Carlo, the Russian voice,
Menardi, Armelle, the Colombian voice) may be trained on; every other folder -- Allison's English and Spanish
(``en*``, ``es_*``, ``*Allison*``) and any folder this table does not know -- is evaluation-only. Paths are resolved
first, so a symlink such as ``es -> es_MX_f_Allison`` (what ``asterisk-core-sounds-es`` installs) is judged by the
folder it points to. :func:`is_evaluation_only` says which files no builder may read for training.

Recorded training voices split by identity too: :data:`RECORDED_VALID_IDENTITIES` are never trained on and are all
``"valid"`` (validation on voices the model has not heard); the other recorded identities split utterance by
utterance like the TTS voices.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any

SPLITS = ("train", "valid", "test")
# split names a trainer validates on (manifests made elsewhere may say validation, val or dev)
VALID_SPLITS = ("valid", "validation", "val", "dev")

# Speaker identities held out for the quality benchmark: a female and a male recorded voice, and two espeak
# variants (one female, one male). Chosen before any training of the models they evaluate.
HELDOUT_SPEAKER_IDENTITIES = frozenset({"slt", "ked", "espeak:f3", "espeak:m7"})

# Piano pieces: a fixed share of the corpus by name hash.
PIECE_TEST_FRACTION = 0.06
PIECE_VALID_FRACTION = 0.06  # the next 6 % of the hash range

# Soundfonts: the training timbres, and one never trained on (the benchmark renders held-out pieces with both a
# training soundfont and this one, to tell "unseen piece" from "unseen piano").
TRAIN_SOUNDFONTS = ("TimGM6mb", "FluidR3_GM")
HELDOUT_SOUNDFONT = "sf_GMbank"
# A third piano, for validation only: choices about "an unseen piano" are made on validation pieces played on it, so
# the benchmark's held-out soundfont stays unseen by every choice too (Debian musescore-general-soundfont-lossless).
VALIDATION_SOUNDFONT = "MuseScore_General_Full"

EVALUATION_ONLY_SOURCES = ("/usr/share/pocketsphinx",)  # evaluation-only as a whole
ASTERISK_SOUNDS = "/usr/share/asterisk/sounds"
# Asterisk voice folders that training may read: folder -> speaker identity. Nothing else under ASTERISK_SOUNDS.
ASTERISK_TRAINING_VOICES = {
    "fr_CA_f_June": "asterisk:june",  # asterisk-core-sounds-fr-g722
    "it_IT_m_Carlo": "asterisk:carlo",  # asterisk-core-sounds-it-g722
    "ru_RU_f_IvrvoiceRU": "asterisk:ivrvoice-ru",  # asterisk-core-sounds-ru-g722
    "it_IT_f_Menardi": "asterisk:menardi",  # asterisk-prompt-it-menardi-wav
    "fr": "asterisk:armelle",  # asterisk-prompt-fr-armelle
    "es": "asterisk:es-co",  # asterisk-prompt-es-co (a real folder; with asterisk-core-sounds-es it is a symlink)
}
# Recorded identities held out for validation (never trained on): a klettres reader (German) and a whole 8 kHz
# Asterisk voice (Armelle, French), like the 8 kHz evaluation voice. Chosen before any training on them.
RECORDED_VALID_IDENTITIES = frozenset({"klettres:de", "asterisk:armelle"})

# voices of the same person under several engines (engine voice name -> identity)
_IDENTITY_ALIASES = {
    "cmu_us_slt_arctic_hts": "slt", "slt": "slt", "cmu_us_slt": "slt",
    "kal_diphone": "kal", "kal": "kal", "kal16": "kal",
    "ked_diphone": "ked",
    "awb": "awb", "awb_time": "awb",
    "rms": "rms",
}


def hash_position(name: str) -> float:
    """A stable number in [0, 1) for ``name``."""
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def speaker_identity(engine: str, voice: str) -> str:
    """The identity behind an engine's voice: ``("festival", "voice_cmu_us_slt_arctic_hts")`` -> ``"slt"``,
    ``("espeak", "en-gb+m3")`` -> ``"espeak:m3"``; anything else -> ``"<engine>:<voice>"``."""
    if engine == "espeak":
        variant = voice.split("+", 1)[1] if "+" in voice else "default"
        return f"espeak:{variant.lower()}"
    name = voice.removeprefix("voice_")
    if name in _IDENTITY_ALIASES:
        return _IDENTITY_ALIASES[name]
    return f"{engine}:{name}"


def speaker_split(identity: str) -> str:
    """``"test"`` for a held-out identity, else ``"train"`` (utterances of training speakers are then split
    train/valid by :func:`utterance_split`)."""
    return "test" if identity in HELDOUT_SPEAKER_IDENTITIES else "train"


def utterance_split(identity: str, utterance_id: str, valid_fraction: float = 0.05) -> str:
    """Split of one utterance: its speaker's ``"test"``, else ``"valid"`` for ``valid_fraction`` of utterances."""
    if speaker_split(identity) == "test":
        return "test"
    _check_fraction(valid_fraction)
    return "valid" if hash_position(utterance_id) < valid_fraction else "train"


def piece_split(piece: str) -> str:
    """Split of a piano piece by its name (variants such as ``_tr+2`` or ``_fluid`` share their piece's split)."""
    position = hash_position(base_piece_name(piece))
    if position < PIECE_TEST_FRACTION:
        return "test"
    if position < PIECE_TEST_FRACTION + PIECE_VALID_FRACTION:
        return "valid"
    return "train"


def base_piece_name(name: str) -> str:
    """Strip rendering-variant suffixes (``"bach_bwv66.6@tr+2@fluid"`` -> ``"bach_bwv66.6"``)."""
    return name.split("@", 1)[0]


def is_evaluation_only(path: str) -> bool:
    """True for files no builder may train on: anything under ``pocketsphinx-testdata``, and any Asterisk voice
    folder outside :data:`ASTERISK_TRAINING_VOICES` (see :func:`asterisk_voice`)."""
    if any(str(path).startswith(root) for root in EVALUATION_ONLY_SOURCES):
        return True
    folder, identity = asterisk_voice(path)
    return folder is not None and identity is None


def asterisk_voice(path: str, root: str = ASTERISK_SOUNDS) -> tuple[str | None, str | None]:
    """``(voice folder, training identity)`` of a path under the Asterisk sounds tree ``root``.

    Both the path and ``root`` are resolved (symlinks followed) first. ``(None, None)``: not under ``root``.
    ``(folder, None)``: an evaluation-only folder (Allison's ``en_US_f_Allison`` / ``es_MX_f_Allison``, any
    ``en*``, anything unknown). ``(folder, identity)``: a voice of :data:`ASTERISK_TRAINING_VOICES`.
    """
    real, base = os.path.realpath(str(path)), os.path.realpath(str(root))
    if real == base or not real.startswith(base + os.sep):
        if not str(path).startswith(str(root).rstrip("/") + "/"):
            return None, None
        return str(path)[len(str(root).rstrip("/")) + 1 :].split("/", 1)[0], None  # dangling: refused
    folder = real[len(base) + 1 :].split(os.sep, 1)[0]
    if "allison" in folder.lower() or folder.lower().startswith("en"):
        return folder, None
    return folder, ASTERISK_TRAINING_VOICES.get(folder)


def recorded_split(identity: str, clip_id: str, valid_fraction: float = 0.05) -> str:
    """Split of one recorded clip: ``"valid"`` for a :data:`RECORDED_VALID_IDENTITIES` voice, else by
    :func:`utterance_split` (``"test"`` never: evaluation-only recordings are refused, not split)."""
    _check_fraction(valid_fraction)
    if identity in RECORDED_VALID_IDENTITIES:
        return "valid"
    return "valid" if hash_position(clip_id) < valid_fraction else "train"


def _check_fraction(fraction: float) -> None:
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {fraction}")


def split_indices(cache: Any) -> tuple[list[int], list[int]]:
    """(train, validation) item indices by each item's ``split`` field (validation: valid/validation/val/dev)."""
    if callable(getattr(cache, "indices", None)):  # TokenCache reads splits from its index, not the items
        held_out = {name: set(cache.indices(name)) for name in VALID_SPLITS + ("test",)}
        everything = list(cache.indices())
    else:
        splits = [str(cache[i].get("split")).lower() for i in range(len(cache))]
        held_out = {name: {i for i, s in enumerate(splits) if s == name} for name in VALID_SPLITS + ("test",)}
        everything = list(range(len(cache)))
    valid_set = set().union(*(held_out[name] for name in VALID_SPLITS))
    valid = [i for i in everything if i in valid_set]
    train = [i for i in everything if i not in valid_set and i not in held_out["test"]]
    return (train or everything), valid
