"""``audiolm train codec|<stage>``: train the codec or one stage of the registry (:mod:`audiolm_lib.training.stages`:
semantic, the parallel acoustic model that ships, or the paper's coarse and fine stages).

Run on several processes with ``torchrun --nproc_per_node N -m audiolm_lib.cli train semantic ...`` (DDP).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, List, Optional

import typer

from audiolm_lib.cli.common import check_device, check_number, friendly_errors
from audiolm_lib.training.stages import STAGE_KINDS

CONFIG_OPTION = typer.Option(None, "--config", "-c", help="JSON or YAML file of training settings.")
SET_OPTION = typer.Option(None, "--set", help="Override a setting: key=value (dotted keys: model.transformer.dim=256). Repeatable.")
RESUME_OPTION = typer.Option(False, "--resume", help="Continue from the newest checkpoint in OUT_DIR, exactly.")
STEPS_OPTION = typer.Option(None, "--steps", help="Total optimisation steps (overrides the config).")
DEVICE_OPTION = typer.Option(None, "--device", help="cpu, cuda or auto (default: the config's, auto).")


def _stage_command(stage: str) -> Callable:
    @friendly_errors
    def command(
        cache_dir: Path = typer.Argument(..., help="Token cache directory (from `audiolm tokenize`)."),
        out_dir: Path = typer.Argument(..., help="Where checkpoints, metrics and the exported model go."),
        config: Optional[Path] = CONFIG_OPTION,
        overrides: Optional[List[str]] = SET_OPTION,
        resume: bool = RESUME_OPTION,
        steps: Optional[int] = STEPS_OPTION,
        device: Optional[str] = DEVICE_OPTION,
        valid_cache: Optional[Path] = typer.Option(None, "--valid-cache", help="Separate validation token cache (default: the cache's valid split)."),
        max_steps: Optional[int] = typer.Option(None, "--stop-after", help="Stop (with a checkpoint) after this step; --resume continues."),
    ) -> None:
        from audiolm_lib.training.config import load_stage_config
        from audiolm_lib.training.trainer import train_stage

        check_run_options(steps, max_steps, device)
        train_config = load_stage_config(config, overrides, stage=stage, steps=steps, device=device)
        check_run_folder(out_dir, resume, [cache_dir, valid_cache, config])
        exported = train_stage(train_config, cache_dir, out_dir, resume=resume, valid_cache=valid_cache, max_steps=max_steps)
        if _first_rank():  # under torchrun, one line, not one per process
            typer.echo(f"{stage} model: {exported}")
        _exit_if_torchrun_worker()

    command.__doc__ = STAGE_KINDS[stage].summary
    return command


@friendly_errors
def train_codec_command(
    audio: Path = typer.Argument(..., help="Audio folder, dataset folder with manifest.jsonl, a manifest.jsonl, or a .txt list of files."),
    out_dir: Path = typer.Argument(..., help="Where checkpoints, metrics and the exported codec go."),
    config: Optional[Path] = CONFIG_OPTION,
    overrides: Optional[List[str]] = SET_OPTION,
    resume: bool = RESUME_OPTION,
    steps: Optional[int] = STEPS_OPTION,
    device: Optional[str] = DEVICE_OPTION,
) -> None:
    """Train a codec on audio files: the frame-rate SpectralCodec (default) or SoundStream (--set arch=soundstream)."""
    from audiolm_lib.cli.common import load_config
    from audiolm_lib.training.codec_trainer import CodecTrainConfig, train_codec

    check_run_options(steps, None, device)
    overrides = list(overrides or [])
    if steps is not None:
        overrides.append(f"steps={steps}")
    if device is not None:
        overrides.append(f"device={device}")
    codec_config = load_config(CodecTrainConfig, config, overrides)
    check_run_folder(out_dir, resume, [audio, config])
    files = list_audio_files(audio)
    exported = train_codec(codec_config, files, out_dir, resume=resume)
    if _first_rank():
        typer.echo(f"codec: {exported}")
    _exit_if_torchrun_worker()


def _first_rank() -> bool:
    """Whether this process is torchrun's rank 0, or the only one (the one that reports and checks folders)."""
    return os.environ.get("RANK", "0") == "0"


def _exit_if_torchrun_worker() -> None:
    """Under torchrun, leave without interpreter finalization (see ``exit_worker``): a finished run never aborts."""
    from audiolm_lib.training.distributed import exit_worker, is_torchrun_worker

    if is_torchrun_worker():
        exit_worker(0)


def check_run_options(steps: int | None, stop_after: int | None, device: str | None) -> None:
    check_number("--steps", steps, 1, 1 << 40)
    check_number("--stop-after", stop_after, 1, 1 << 40)
    check_device(device)


def check_run_folder(out_dir: Path, resume: bool, inputs: list) -> None:
    """OUT_DIR is none of the inputs, and (without --resume) empty or new: a run never mixes with other files.
    Under torchrun only rank 0 checks (the others would see the files it has begun writing)."""
    from audiolm_lib.outputs import check_output_dir

    if _first_rank():
        check_output_dir(out_dir, "training folder (OUT_DIR)", inputs=inputs, fresh=not resume,
                         flag="--resume (to continue a run of this command)")


def list_audio_files(source: Path, split: str = "train") -> list[Path]:
    """Audio files of ``source``: a manifest (or a folder holding one; ``split`` entries), a folder, or a .txt list."""
    from audiolm_lib.datasets.manifest import MANIFEST_NAME, read_manifest
    from audiolm_lib.datasets.manifest import list_audio_files as list_folder

    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"audio source not found: {source}")
    if source.is_dir() and not (source / MANIFEST_NAME).exists():
        files = list_folder(source)
    elif source.is_dir() or source.suffix.lower() == ".jsonl":
        entries = read_manifest(source)
        files = [Path(e["audio"]) for e in entries if e.get("split", "train") == split] or [Path(e["audio"]) for e in entries]
    else:
        from audiolm_lib.inputs import MAX_MANIFEST_BYTES, read_text

        text = read_text(source, "list of audio files", max_bytes=MAX_MANIFEST_BYTES)  # regular, bounded
        lines = [line.strip() for line in text.splitlines()]
        files = [p if p.is_absolute() else source.parent / p for p in map(Path, filter(None, lines))]
        missing = [str(p) for p in files if not p.exists()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} file(s) listed in {source} do not exist, e.g. {missing[:3]}")
    if not files:
        raise ValueError(f"no audio files found in {source}")
    return files


def register(app: typer.Typer) -> None:
    train_app = typer.Typer(help="Train the codec or a stage: semantic, parallel (the acoustic generator that ships), "
                                 "or the paper's coarse and fine.", no_args_is_help=True)
    train_app.command("codec")(train_codec_command)
    for stage, kind in STAGE_KINDS.items():
        train_app.command(stage, help=kind.summary)(_stage_command(stage))
    app.add_typer(train_app, name="train")
