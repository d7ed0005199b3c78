"""``audiolm fit-kmeans`` (and ``audiolm train-hubert``): build a semantic tokenizer from your own audio."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from audiolm_lib.cli.common import check_device, check_number, check_seconds, friendly_errors

FEATURE_KINDS = ("mfcc", "logmel", "chroma", "chroma_onset", "hubert", "w2v-bert")


@friendly_errors
def fit_kmeans_command(
    audio: List[Path] = typer.Argument(..., help="audio folder(s) (searched recursively) or files"),
    out: Path = typer.Option(..., "--out", "-o", help="tokenizer directory to write (config.json + model.safetensors)"),
    features: str = typer.Option("mfcc", help="mfcc | logmel | chroma (music: ids carry the harmony) | chroma_onset (and the attacks) | hubert | w2v-bert"),
    model: Optional[Path] = typer.Option(None, help="HuBERT: HF directory or fairseq .pt; w2v-bert: HF directory"),
    layer: int = typer.Option(6, help="transformer layer of the learned model whose output is clustered"),
    clusters: int = typer.Option(500, help="k-means vocabulary size"),
    max_frames: int = typer.Option(2_000_000, help="frames used for fitting at most (bounds time and memory)"),
    batch_frames: int = typer.Option(10_000, help="frames per mini-batch k-means step"),
    chunk_seconds: float = typer.Option(30.0, help="long files are featurised in pieces of this length"),
    seed: int = typer.Option(0),
    device: str = typer.Option("cpu", help="cpu or cuda (feature extraction)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="write into an existing non-empty --out folder"),
) -> None:
    """Fit k-means on features of AUDIO and write a self-contained semantic tokenizer to --out."""
    from audiolm_lib.limits import VOCAB
    from audiolm_lib.outputs import check_output_dir
    from audiolm_lib.semantic.tokenizer import fit_tokenizer, list_audio_files

    if features not in FEATURE_KINDS:
        raise ValueError(f"--features must be one of {FEATURE_KINDS}, got {features!r}")
    if features in ("hubert", "w2v-bert") and model is None:
        raise ValueError(f"--features {features} needs --model (a local model directory or fairseq checkpoint)")
    check_number("--clusters", clusters, 2, VOCAB[1])
    check_number("--max-frames", max_frames, 1, 1 << 31)
    check_number("--batch-frames", batch_frames, 1, 1 << 24)
    check_number("--layer", layer, 1, 256)
    check_seconds("--chunk-seconds", chunk_seconds)
    check_device(device)
    check_output_dir(out, "tokenizer folder (--out)", inputs=[*audio, model], fresh=True, overwrite=overwrite)
    files = [f for source in audio for f in list_audio_files(source)]
    typer.echo(f"fitting {clusters} {features} clusters on {len(files)} file(s)")
    tokenizer = fit_tokenizer(files, features, clusters, model_path=model, layer=layer, chunk_seconds=chunk_seconds,
                              batch_frames=batch_frames, max_frames=max_frames, seed=seed, device=device)
    tokenizer.save_pretrained(out)
    tokenizer.kmeans.save(out / "kmeans.npy", extra={"features": features, "layer": layer})
    typer.echo(f"wrote {out} (vocab {tokenizer.vocab_size}, {tokenizer.frame_rate:g} tokens/s, "
               f"{tokenizer.sample_rate} Hz input)")


@friendly_errors
def train_hubert_command(
    audio: List[Path] = typer.Argument(..., help="audio folder(s) (searched recursively) or files"),
    out: Path = typer.Option(..., "--out", "-o", help="run directory: targets/, checkpoints/, metrics, hubert/"),
    config: Optional[Path] = typer.Option(None, help="HubertTrainingConfig as JSON/YAML"),
    overrides: List[str] = typer.Option([], "--set", help="config override key=value (repeatable), e.g. --set steps=500"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
    resume: bool = typer.Option(True, help="continue from the newest checkpoint in --out/checkpoints"),
) -> None:
    """Train a small HuBERT on MFCC k-means targets (iteration 1); --out/hubert then feeds fit-kmeans --features hubert."""
    from audiolm_lib.cli.common import load_config
    from audiolm_lib.outputs import check_output_dir
    from audiolm_lib.semantic.tokenizer import list_audio_files
    from audiolm_lib.training.hubert import HubertTrainingConfig, train_hubert

    check_device(device)
    training_config = load_config(HubertTrainingConfig, config, overrides)
    check_output_dir(out, "run folder (--out)", inputs=[*audio, config], fresh=True, flag=None,
                     ours=lambda folder: resume and (folder / "checkpoints").is_dir())  # a run of this command
    files = [f for source in audio for f in list_audio_files(source)]
    typer.echo(f"training HuBERT ({training_config.num_layers} layers, {training_config.hidden_size} dim) on "
               f"{len(files)} file(s) for {training_config.steps} steps")
    train_hubert(files, out, training_config, device=device, resume=resume)
    typer.echo(f"wrote {out / 'hubert'}; next: audiolm fit-kmeans AUDIO --features hubert --model {out / 'hubert'} "
               f"--layer {training_config.num_layers} --out TOKENIZER_DIR")


def register(app: typer.Typer) -> None:
    app.command("fit-kmeans")(fit_kmeans_command)
    app.command("train-hubert")(train_hubert_command)
