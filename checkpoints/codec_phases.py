"""The codec phases of ``make_checkpoints.py``: the shared codec, then its decoder alone (codes unchanged) plainly,
against a discriminator, and on voice-matched latents; and which phase's codec the stages use."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from work_data import CODEC_DATA, RECIPES, manifest, record_cpu, split_files


def train_codec(work: Path, minutes: float | None) -> None:
    """The shared codec: all training audio of both domains (other-language speech too: more voices); the last
    40 files of the list are unseen valid-split clips for its evaluation rows."""
    _run_codec_phase(work, "codec", minutes)


def tune_codec_decoder(work: Path, minutes: float | None) -> None:
    """Second codec phase: the decoder alone, from the first phase's codec (recipes/codec_decoder.json). Encoder and
    codebooks are frozen, so the codes do not change and the stages (trained on them meanwhile) stay valid."""
    _run_codec_phase(work, "codec_decoder", minutes, [f"init_from={work / 'codec' / 'codec'}"])


def tune_codec_adversarial(work: Path, minutes: float | None) -> None:
    """Third codec phase: the decoder alone again, now against a multi-band spectrogram discriminator
    (recipes/codec_adversarial.json), from the decoder-tuned codec; the codes stay those the stages were trained on."""
    start = work / "codec_decoder" / "codec"
    _run_codec_phase(work, "codec_adversarial", minutes,
                     [f"init_from={start if (start / 'config.json').exists() else work / 'codec' / 'codec'}"])


def tune_codec_prematched(work: Path, minutes: float | None, phase: str = "codec_prematched") -> None:
    """The speech codec's decoder trained on voice-matched latents (recipes/codec_prematched.json, kNN-VC's
    prematched vocoder), from the shipped codec, on the speech and recorded training voices; codes unchanged.
    ``phase``: another recipe of the same kind (its name is also the run's folder), such as its control
    ``codec_prematched_control`` (the same run without the matching)."""
    _run_codec_phase(work, phase, minutes, [f"init_from={shipped_codec(work)}"],
                     data_sets=("speech", "recorded"), valid_sets=("speech", "recorded"))


def _run_codec_phase(work: Path, phase: str, minutes: float | None, overrides: list[str] | None = None,
                     data_sets: tuple[str, ...] = CODEC_DATA,
                     valid_sets: tuple[str, ...] = ("speech", "piano")) -> None:
    """``recipes/<phase>.json`` on the train files of ``data_sets`` plus 40 seeded valid-split clips of
    ``valid_sets`` (its evaluation rows), into ``work/<phase>``, resuming where a run stopped."""
    from audiolm_lib.config import load_config
    from audiolm_lib.training.codec_trainer import CodecTrainConfig, train_codec as run

    files = split_files([manifest(work, name) for name in data_sets], "train")
    valid = split_files([manifest(work, name) for name in valid_sets], "valid")
    valid = [valid[i] for i in torch.randperm(len(valid), generator=torch.Generator().manual_seed(0))[:40].tolist()]
    overrides = list(overrides or []) + [f"eval_fraction={40 / (len(files) + 40) + 1e-9}"]
    overrides += [] if minutes is None else [f"budget_minutes={minutes}"]
    config = load_config(CodecTrainConfig, RECIPES / f"{phase}.json", overrides)
    out = work / phase
    started = time.process_time()
    run(config, files + valid, out, resume=any(out.glob("step_*.safetensors")))
    record_cpu(out, phase, time.process_time() - started)


def shipped_codec(work: Path) -> Path:
    """The latest codec phase's export: adversarial, else decoder-tuned, else the first (their codes are identical);
    else one put in place by the ``seed`` phase."""
    for phase in ("codec_adversarial", "codec_decoder", "codec", "codec_seeded"):
        if (work / phase / "codec" / "config.json").exists():
            return work / phase / "codec"
    return work / "codec" / "codec"
