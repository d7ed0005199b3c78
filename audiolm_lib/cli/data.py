"""``audiolm data piano|speech|recorded|voices|index``: build the embedded datasets (no download) or index your own audio."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from audiolm_lib.cli.common import check_number, friendly_errors

MAX_MINUTES = 7 * 24 * 60.0  # a week of audio: more is a typo, not a dataset


@friendly_errors
def piano_command(
    out_dir: Path = typer.Argument(..., help="Output folder: audio/*.wav + manifest.jsonl."),
    minutes: float = typer.Option(30.0, "--minutes", "-m", help="Minutes of audio to render."),
    clip_seconds: float = typer.Option(10.0, "--clip-seconds", help="Length of each clip."),
    seed: int = typer.Option(0, "--seed", help="Chooses and orders the pieces and draws the variants."),
    valid_fraction: Optional[float] = typer.Option(None, "--valid-fraction", help="Share of the (not held-out) pieces used for validation; default: the split policy's."),
    max_seconds_per_piece: float = typer.Option(20.0, "--max-seconds-per-piece", help="Use only the start of each rendering, so more pieces fit."),
    max_score_mb: float = typer.Option(1.0, "--max-score-mb", help="Skip scores larger than this (slow to parse); 0 keeps all (bounded by --parse-timeout)."),
    parse_timeout: float = typer.Option(120.0, "--parse-timeout", help="Skip a score whose parsing takes longer (seconds; 0: no limit)."),
    variants: int = typer.Option(1, "--variants", help="Renderings per piece: the plain one, then drawn tempo/velocity/transposition/soundfont."),
    tempo: str = typer.Option("0.85,1.15", "--tempo", help="Tempo factor range LO,HI of the drawn variants."),
    velocity: str = typer.Option("0.7,1.2", "--velocity", help="Velocity scale range LO,HI of the drawn variants."),
    transpose: str = typer.Option("-3,3", "--transpose", help="Transposition range LO,HI in semitones (write --transpose=-3,3)."),
    soundfonts: str = typer.Option("TimGM6mb,FluidR3_GM", "--soundfonts", help="Training soundfonts the variants take in turn (the first plays the plain rendering); MuseScore_General_Full with --valid-only."),
    include_test: bool = typer.Option(False, "--include-test", help="Also render the held-out test pieces (never for training)."),
    valid_only: bool = typer.Option(False, "--valid-only", help="Render the validation pieces only (e.g. on the validation-only soundfont MuseScore_General_Full)."),
    workers: int = typer.Option(2, "--workers", help="Processes parsing and rendering scores."),
) -> None:
    """Render music21 corpus scores as piano (16 kHz), optionally in several variants per piece; resumable."""
    from audiolm_lib.datasets.manifest import read_manifest
    from audiolm_lib.datasets.piano import build_piano_dataset
    from audiolm_lib.datasets.piano_variants import VariantSpec, parse_range, parse_soundfonts

    check_number("--minutes", minutes, -math.inf, MAX_MINUTES)  # (the builders say "must be positive")
    check_number("--clip-seconds", clip_seconds, 0.0, 3600.0, open_low=True)
    check_number("--max-seconds-per-piece", max_seconds_per_piece, 0.0, 3600.0, open_low=True)
    check_number("--max-score-mb", max_score_mb, 0.0, 1024.0)
    check_number("--parse-timeout", parse_timeout, 0.0, 24 * 3600.0)
    check_number("--variants", variants, 1, 1000)
    check_number("--workers", workers, 1, 256)
    if valid_fraction is not None:
        check_number("--valid-fraction", valid_fraction, 0.0, 1.0)
    if valid_only and include_test:
        raise typer.BadParameter("--valid-only renders the validation pieces only: drop --include-test")
    check_dataset_folder(out_dir)
    fonts = parse_soundfonts(soundfonts)
    spec = VariantSpec(count=variants, tempo=parse_range(tempo), velocity=parse_range(velocity),
                       transpose=parse_range(transpose, int), soundfonts=fonts if variants > 1 else fonts[:1])
    manifest = build_piano_dataset(out_dir, minutes=minutes, clip_seconds=clip_seconds, seed=seed,
                                   valid_fraction=valid_fraction, max_seconds_per_piece=max_seconds_per_piece,
                                   max_score_mb=max_score_mb if max_score_mb > 0 else None,
                                   parse_timeout=parse_timeout if parse_timeout > 0 else None, variants=spec,
                                   splits=("valid",) if valid_only else _splits(include_test), workers=workers)
    _report(manifest, read_manifest(manifest), "piece")


@friendly_errors
def speech_command(
    out_dir: Path = typer.Argument(..., help="Output folder: audio/*.wav (+ .txt transcripts) + manifest.jsonl."),
    minutes: float = typer.Option(30.0, "--minutes", "-m", help="Minutes of speech, shared by the speaker identities."),
    speakers: Optional[str] = typer.Option(None, "--speakers", help="Comma-separated voice names (see `audiolm data voices`) or a count; default: every installed voice."),
    seed: int = typer.Option(0, "--seed", help="Chooses the sentences and speaking rates."),
    valid_fraction: float = typer.Option(0.05, "--valid-fraction", help="Share of a training speaker's utterances held out for validation."),
    languages: str = typer.Option("en", "--languages", help="Comma-separated voice languages (en, it, ca, fi, cs) or 'all'."),
    engines: Optional[str] = typer.Option(None, "--engines", help="Comma-separated engines (espeak, flite, festival, piper); default: all."),
    include_test: bool = typer.Option(False, "--include-test", help="Also synthesise the held-out test speakers (never for training)."),
    max_utterances_per_speaker: Optional[int] = typer.Option(None, "--max-utterances-per-speaker", help="Stop each voice after this many utterances."),
    workers: int = typer.Option(2, "--workers", help="TTS processes run at once."),
) -> None:
    """Synthesise sentences with many offline TTS voices (espeak-ng, flite, festival, piper), 16 kHz; resumable."""
    from audiolm_lib.datasets.manifest import read_manifest
    from audiolm_lib.datasets.speech import build_speech_dataset

    check_number("--minutes", minutes, -math.inf, MAX_MINUTES)  # (the builders say "must be positive")
    check_number("--valid-fraction", valid_fraction, 0.0, 1.0)
    check_number("--workers", workers, 1, 256)
    check_number("--max-utterances-per-speaker", max_utterances_per_speaker, 1, 1 << 30)
    check_dataset_folder(out_dir)
    chosen = None
    if speakers:
        chosen = int(speakers) if speakers.strip().isdigit() else _names(speakers)
    manifest = build_speech_dataset(out_dir, minutes=minutes, speakers=chosen, seed=seed,
                                    valid_fraction=valid_fraction, workers=workers,
                                    languages=None if languages.strip() == "all" else _names(languages),
                                    engines=_names(engines) if engines else None, splits=_splits(include_test),
                                    max_utterances_per_speaker=max_utterances_per_speaker)
    _report(manifest, read_manifest(manifest), "identity")


@friendly_errors
def recorded_command(
    out_dir: Path = typer.Argument(..., help="Output folder: audio/*.wav + manifest.jsonl."),
    minutes: Optional[float] = typer.Option(None, "--minutes", "-m", help="Stop at about this much audio (identities take turns); default: everything."),
    sources: Optional[str] = typer.Option(None, "--sources", help="Comma-separated Debian packages (klettres-data, asterisk-core-sounds-fr-g722, ...); default: every installed one."),
    valid_fraction: float = typer.Option(0.05, "--valid-fraction", help="Share of a training voice's clips held out for validation (some voices are held out whole)."),
    utterance_seconds: float = typer.Option(10.0, "--utterance-seconds", help="Consecutive short clips of one voice are joined up to this length."),
) -> None:
    """Decode recorded voices (klettres, Asterisk June/Carlo/Russian/Armelle/Menardi/Colombian) to 16 kHz; never the evaluation voices."""
    from audiolm_lib.datasets.manifest import read_manifest
    from audiolm_lib.datasets.recorded import build_recorded_dataset

    check_number("--minutes", minutes, -math.inf, MAX_MINUTES)
    check_number("--valid-fraction", valid_fraction, 0.0, 1.0)
    check_number("--utterance-seconds", utterance_seconds, 0.0, 3600.0, open_low=True)
    check_dataset_folder(out_dir)
    manifest = build_recorded_dataset(out_dir, minutes=minutes, sources=_names(sources) if sources else None,
                                      valid_fraction=valid_fraction, utterance_seconds=utterance_seconds)
    _report(manifest, read_manifest(manifest), "identity")


@friendly_errors
def speed_command(
    out_dir: Path = typer.Argument(..., help="Output folder: audio/*.wav + manifest.jsonl."),
    source: Path = typer.Option(..., "--source", help="A dataset folder (or its manifest.jsonl) whose training voices to copy."),
    factors: str = typer.Option("0.8,0.9,1.15", "--factors", help="Speed factors: each copy is this much faster, its pitch 12*log2(f) semitones higher."),
    split: str = typer.Option("train", "--split", help="Which split to copy (valid: new validation voices, e.g. pitched below every training voice)."),
) -> None:
    """Speed-perturbed copies of a dataset's training voices, each a new identity (only the --split items are copied)."""
    from audiolm_lib.datasets.speed_variants import build_speed_variants, parse_factors

    chosen = parse_factors(factors)
    _build_copies(out_dir, source, split, lambda: build_speed_variants(source, out_dir, chosen, split=split))


@friendly_errors
def narrowband_command(
    out_dir: Path = typer.Argument(..., help="Output folder: audio/*.wav + manifest.jsonl."),
    source: Path = typer.Option(..., "--source", help="A dataset folder (or its manifest.jsonl) whose wideband training voices to copy."),
    band: float = typer.Option(4000.0, "--band", help="The channel's band in Hz: nothing above it (4000: an 8 kHz telephone recording)."),
    split: str = typer.Option("train", "--split", help="Which split to copy (train or valid)."),
    keep_speaker: bool = typer.Option(False, "--keep-speaker", help="Copies keep their original's speaker (a new identity still): same-speaker prompts then cross the channel."),
) -> None:
    """Narrowband (telephone-channel) copies of a dataset's wideband voices, each a new identity; items that are narrowband already are not copied."""
    from audiolm_lib.datasets.channel_variants import build_narrowband_variants, check_band

    check_band(band)
    _build_copies(out_dir, source, split, lambda: build_narrowband_variants(source, out_dir, band, split=split,
                                                                            keep_speaker=keep_speaker))


def _build_copies(out_dir: Path, source: Path, split: str, build) -> None:
    """The checks and report around a builder of copies of ``source``'s ``split`` voices (speed, narrowband)."""
    from audiolm_lib.datasets.manifest import read_manifest
    from audiolm_lib.outputs import check_not_input

    check_not_input(out_dir, [source])
    check_dataset_folder(out_dir)
    if split not in ("train", "valid"):
        raise ValueError(f"--split must be train or valid, got {split!r}")
    manifest = build()
    _report(manifest, read_manifest(manifest), "identity")


def voices_command() -> None:
    """List the speech voices: engine, speaker identity, split, language, and whether they are installed."""
    from audiolm_lib.datasets.voices import ENGINE_PROGRAMS, available_voices, catalogue, identities

    installed = set(available_voices())
    for voice in catalogue():
        state = "installed" if voice in installed else f"missing {ENGINE_PROGRAMS[voice.engine]}"
        typer.echo(f"{voice.name:24s} {voice.engine:9s} {voice.voice:30s} {voice.identity:24s} {voice.split:5s} "
                   f"{voice.language:3s} {state}")
    groups = identities(installed)
    held_out = sum(group[0].split == "test" for group in groups.values())
    typer.echo(f"{len(installed)} of {len(catalogue())} voices installed, {len(groups)} speaker identities "
               f"({held_out} held out for evaluation)")


def check_dataset_folder(out_dir: Path) -> None:
    """A new or empty folder, or one this builder wrote before (it resumes): never a folder of other files."""
    from audiolm_lib.outputs import check_output_dir, holds_only

    check_output_dir(out_dir, "dataset folder", fresh=True, flag=None,
                     ours=holds_only("audio", "manifest.jsonl", ".progress"))


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _splits(include_test: bool) -> tuple[str, ...]:
    return ("train", "valid", "test") if include_test else ("train", "valid")


@friendly_errors
def index_command(
    folder: Path = typer.Argument(..., help="Folder of your own audio files (searched recursively)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Manifest to write (default: FOLDER/manifest.jsonl)."),
    valid_fraction: float = typer.Option(0.05, "--valid-fraction", help="Share of files held out for validation."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file that is not a manifest."),
) -> None:
    """Write a manifest.jsonl for a folder of your own audio (a .txt beside a file is its transcript)."""
    from audiolm_lib.datasets.manifest import MANIFEST_NAME, ManifestError, manifest_from_folder, read_manifest

    check_number("--valid-fraction", valid_fraction, 0.0, 1.0)
    target = out if out is not None else folder / MANIFEST_NAME
    if target.is_file() and not overwrite:
        try:  # an earlier manifest is replaced; any other file of that name is the user's
            read_manifest(target, resolve=False)
        except ManifestError:
            raise ValueError(f"{target} exists and is not a manifest; choose another name (--out), or pass "
                             "--overwrite to replace it") from None
    manifest = manifest_from_folder(folder, out, valid_fraction=valid_fraction)
    entries = read_manifest(manifest)
    _report(manifest, entries, None)
    valid = sum(e["split"] == "valid" for e in entries)
    if valid == 0:
        typer.echo("no validation split (one file, or --valid-fraction 0): the stage trainers will report no validation "
                   "loss; the codec trainer evaluates on fixed segments of the training audio")
    else:
        typer.echo(f"{valid} of {len(entries)} files held out for validation ({100 * valid / len(entries):.0f} %; "
                   f"--valid-fraction {valid_fraction:g}, at least one)")


def _report(manifest: Path, entries: list[dict], group_key: str | None) -> None:
    seconds = sum(float(e.get("duration") or 0.0) for e in entries)
    splits = {s: sum(e["split"] == s for e in entries) for s in sorted({e["split"] for e in entries})}
    if group_key and not any(group_key in e for e in entries):
        group_key = "speaker"
    plural = {"identity": "speaker identities"}.get(group_key or "", f"{group_key}s")
    groups = f", {len({e.get(group_key) for e in entries})} {plural}" if group_key else ""
    typer.echo(f"{manifest}: {len(entries)} files, {seconds / 60:.1f} min{groups}, splits {splits}")


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(help="Build the embedded datasets (piano, speech, recorded voices) or index your own audio.", no_args_is_help=True)
    data_app.command("piano")(piano_command)
    data_app.command("speech")(speech_command)
    data_app.command("recorded")(recorded_command)
    data_app.command("speed")(speed_command)
    data_app.command("narrowband")(narrowband_command)
    data_app.command("voices")(voices_command)
    data_app.command("index")(index_command)
    app.add_typer(data_app, name="data")
