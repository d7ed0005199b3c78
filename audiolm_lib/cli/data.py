"""``audiolm data piano|speech|voices|index``: build the embedded datasets (no download) or index your own audio."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from audiolm_lib.cli.common import friendly_errors


@friendly_errors
def piano_command(
    out_dir: Path = typer.Argument(..., help="Output folder: audio/*.wav + manifest.jsonl."),
    minutes: float = typer.Option(30.0, "--minutes", "-m", help="Minutes of audio to render."),
    clip_seconds: float = typer.Option(10.0, "--clip-seconds", help="Length of each clip."),
    seed: int = typer.Option(0, "--seed", help="Chooses and orders the pieces."),
    valid_fraction: float = typer.Option(0.1, "--valid-fraction", help="Share of pieces held out for validation."),
    max_seconds_per_piece: float = typer.Option(20.0, "--max-seconds-per-piece", help="Use only the start of each piece, so more pieces fit."),
    max_score_mb: float = typer.Option(1.0, "--max-score-mb", help="Skip scores larger than this (slow to parse)."),
    workers: int = typer.Option(2, "--workers", help="Processes parsing and rendering scores."),
) -> None:
    """Render music21 corpus scores as piano (TimGM6mb soundfont, 16 kHz); resumable."""
    from audiolm_lib.datasets.manifest import read_manifest
    from audiolm_lib.datasets.piano import build_piano_dataset

    manifest = build_piano_dataset(out_dir, minutes=minutes, clip_seconds=clip_seconds, seed=seed,
                                   valid_fraction=valid_fraction, max_seconds_per_piece=max_seconds_per_piece,
                                   max_score_mb=max_score_mb, workers=workers)
    _report(manifest, read_manifest(manifest), "piece")


@friendly_errors
def speech_command(
    out_dir: Path = typer.Argument(..., help="Output folder: audio/*.wav (+ .txt transcripts) + manifest.jsonl."),
    minutes: float = typer.Option(30.0, "--minutes", "-m", help="Minutes of speech, shared evenly by the speakers."),
    speakers: Optional[str] = typer.Option(None, "--speakers", help="Comma-separated voice names (see `audiolm data voices`) or a count; default: every installed voice."),
    seed: int = typer.Option(0, "--seed", help="Chooses the sentences and speaking rates."),
    valid_fraction: float = typer.Option(0.05, "--valid-fraction", help="Share of utterances held out for validation."),
    workers: int = typer.Option(2, "--workers", help="TTS processes run at once."),
) -> None:
    """Synthesise English sentences with several offline TTS voices (espeak-ng, flite, festival), 16 kHz; resumable."""
    from audiolm_lib.datasets.manifest import read_manifest
    from audiolm_lib.datasets.speech import build_speech_dataset

    chosen = None
    if speakers:
        chosen = int(speakers) if speakers.strip().isdigit() else [s.strip() for s in speakers.split(",") if s.strip()]
    manifest = build_speech_dataset(out_dir, minutes=minutes, speakers=chosen, seed=seed,
                                    valid_fraction=valid_fraction, workers=workers)
    _report(manifest, read_manifest(manifest), "speaker")


def voices_command() -> None:
    """List the speech voices and whether their TTS engine is installed."""
    from audiolm_lib.datasets.speech import ENGINE_PROGRAMS, VOICES, available_voices

    installed = set(available_voices())
    for voice in VOICES:
        state = "installed" if voice in installed else f"missing {ENGINE_PROGRAMS[voice.engine]}"
        typer.echo(f"{voice.name:22s} {voice.engine:9s} {voice.voice:30s} {state}")


@friendly_errors
def index_command(
    folder: Path = typer.Argument(..., help="Folder of your own audio files (searched recursively)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Manifest to write (default: FOLDER/manifest.jsonl)."),
    valid_fraction: float = typer.Option(0.05, "--valid-fraction", help="Share of files held out for validation."),
) -> None:
    """Write a manifest.jsonl for a folder of your own audio (a .txt beside a file is its transcript)."""
    from audiolm_lib.datasets.manifest import manifest_from_folder, read_manifest

    manifest = manifest_from_folder(folder, out, valid_fraction=valid_fraction)
    _report(manifest, read_manifest(manifest), None)


def _report(manifest: Path, entries: list[dict], group_key: str | None) -> None:
    seconds = sum(float(e.get("duration") or 0.0) for e in entries)
    splits = {s: sum(e["split"] == s for e in entries) for s in sorted({e["split"] for e in entries})}
    groups = f", {len({e.get(group_key) for e in entries})} {group_key}s" if group_key else ""
    typer.echo(f"{manifest}: {len(entries)} files, {seconds / 60:.1f} min{groups}, splits {splits}")


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(help="Build the embedded datasets (piano, speech) or index your own audio.", no_args_is_help=True)
    data_app.command("piano")(piano_command)
    data_app.command("speech")(speech_command)
    data_app.command("voices")(voices_command)
    data_app.command("index")(index_command)
    app.add_typer(data_app, name="data")
