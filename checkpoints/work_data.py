"""The work folder's data of ``make_checkpoints.py``: the data sets the recipes name, how they are built (``audiolm
data``), their manifests and splits, the recipes folder, and the CPU-seconds record every phase appends to."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import torch

RECIPES = Path(__file__).resolve().parent / "recipes"
ROOT = RECIPES.parents[1]  # the repository: recipes name shipped folders relative to it
# the data sets of the recipes: (folder under WORK/data, `audiolm data` arguments)
DATA_SETS = {
    "speech": ("speech", ["speech", "--minutes", "180", "--workers", "1"]),
    "speech_other_languages": ("speech_other_languages",
                               ["speech", "--minutes", "30", "--languages", "it,ca,fi,cs", "--workers", "1"]),
    "piano": ("piano", ["piano", "--minutes", "180", "--variants", "3", "--max-seconds-per-piece", "24",
                        "--max-score-mb", "0", "--parse-timeout", "120", "--workers", "1"]),
    # more piano for the semantic stage (recipes/piano_semantic_more.json): seed 1 draws other pieces (111, 59 not in
    # the piano set) and other variants; its ids repeat some of the piano set's, so a token cache takes one of the two
    "piano_more": ("piano_more", ["piano", "--minutes", "180", "--variants", "4", "--seed", "1",
                                  "--max-seconds-per-piece", "24", "--max-score-mb", "0", "--parse-timeout", "120",
                                  "--workers", "1"]),
    # recorded voices (klettres, Asterisk fr/it/ru/es-co; never the evaluation voices): the codec phases read them
    "recorded": ("recorded", ["recorded"]),
    # speed-perturbed copies of the recorded training voices (new identities, 0.8x-1.15x: -3.9 to +2.4 semitones)
    "recorded_speed": ("recorded_speed", ["speed", "--source", "{data}/recorded", "--factors", "0.8,0.9,1.15"]),
    # telephone-channel copies of the wideband recorded training voices (new identities, nothing above 4 kHz): the
    # generator's voicing fails most on narrowband prompts (issue 20's twelfth pass); recipes/speech_narrowband.json
    # trained on them (thirteenth pass, not shipped: the codec's codes of telephone speech decode half unvoiced)
    "recorded_narrowband": ("recorded_narrowband", ["narrowband", "--source", "{data}/recorded", "--band", "4000"]),
    # the same copies keeping their original's speaker: same-speaker prompts that cross the channel
    # (recipes/speech_paired.json, with prompt_only_tag "@nb": the copies are prompts only, never targets)
    "recorded_narrowband_paired": ("recorded_narrowband_paired", ["narrowband", "--source", "{data}/recorded",
                                                                  "--band", "4000", "--keep-speaker"]),
}
# what the codec phases train on (the speed copies came later, for the acoustic generator)
CODEC_DATA = ("speech", "speech_other_languages", "piano", "recorded")


def manifest(work: Path, data_set: str) -> Path:
    path = work / "data" / DATA_SETS[data_set][0] / "manifest.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the 'data' phase first")
    return path


def split_files(manifests: list[Path], split: str, language: str | None = None) -> list[Path]:
    files = []
    for path in manifests:
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["split"] == split and (language is None or entry.get("language", "en") == language):
                files.append(path.parent / entry["audio"])
    return files


def build_data(work: Path) -> None:
    for data_set, (folder, arguments) in DATA_SETS.items():
        out = work / "data" / folder
        if (out / "manifest.jsonl").exists():
            continue
        command = ["audiolm", "data", arguments[0], str(out),
                   *(argument.format(data=work / "data") for argument in arguments[1:])]
        print("+", " ".join(command), flush=True)
        subprocess.run(command, check=True)


def record_cpu(out: Path, what: str, seconds: float) -> None:
    """Append this run's process CPU seconds to ``out/cpu_seconds.jsonl`` (runs of one budget add up)."""
    from audiolm_lib.atomic import append_line

    append_line(out / "cpu_seconds.jsonl", json.dumps({"phase": what, "cpu_seconds": round(seconds, 1),
                                                       "threads": torch.get_num_threads(), "time": time.time()}))
