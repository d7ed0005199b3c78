"""``audiolm tokenize``: run the semantic tokenizer and the codec once over a dataset into a token cache."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from audiolm_lib.cli.common import check_device, check_number, friendly_errors

FITTED_TOKENIZER_DIR = "tokenizer"


@friendly_errors
def tokenize_command(
    manifest: Path = typer.Argument(..., help="manifest.jsonl (or the dataset folder holding it)."),
    out_dir: Path = typer.Argument(..., help="Token cache folder to write (resumed if a build was interrupted)."),
    tokenizer: str = typer.Option(..., "--tokenizer", help="Semantic tokenizer checkpoint folder, or 'mfcc' / 'logmel' (speech) / 'chroma' / 'chroma_onset' (music) to fit one with k-means on the train split first."),
    codec: Path = typer.Option(..., "--codec", help="Codec checkpoint folder (config.json + model.safetensors)."),
    extra_manifests: Optional[List[Path]] = typer.Option(None, "--add", help="Another manifest to include (repeatable)."),
    split: Optional[str] = typer.Option(None, "--split", help="Only entries of this split (train/valid); default all."),
    shard_size: int = typer.Option(512, "--shard-size", help="Items per shard."),
    clusters: int = typer.Option(500, "--clusters", help="k-means vocabulary when fitting an mfcc/logmel tokenizer."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto."),
) -> None:
    """Tokenize a dataset with a semantic tokenizer and a codec into memory-mapped shards for stage training."""
    import torch

    from audiolm_lib.interfaces import CodecProtocol
    from audiolm_lib.outputs import check_output_dir
    from audiolm_lib.serialization import load_pretrained
    from audiolm_lib.training.token_cache import build_token_cache

    from audiolm_lib.limits import VOCAB
    from audiolm_lib.training.token_cache import BUILD_NAME, FOREIGN_ALLOWED

    check_device(device)
    check_number("--shard-size", shard_size, 1, 1 << 20)
    check_number("--clusters", clusters, 2, VOCAB[1])
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    manifests = [manifest, *(extra_manifests or [])]
    # before anything is written (a fitted tokenizer included): an interrupted build of this cache resumes,
    # any other non-empty folder is refused
    check_output_dir(out_dir, "token cache folder", inputs=[*manifests, codec, tokenizer], fresh=True,
                     ours=lambda folder: (folder / BUILD_NAME).is_file() or all(
                         p.name in FOREIGN_ALLOWED for p in folder.iterdir()), flag=None)
    if not codec.exists():
        raise FileNotFoundError(f"codec checkpoint folder not found: {codec}")
    codec_model = load_pretrained(codec, map_location=device, kind=CodecProtocol, what="codec (--codec)")
    semantic = _load_or_fit_tokenizer(tokenizer, manifests, out_dir, clusters, device)
    cache = build_token_cache(manifests, out_dir, semantic, codec_model, split=split, shard_size=shard_size,
                              device=device, progress=True)
    typer.echo(repr(cache))


def _load_or_fit_tokenizer(spec: str, manifests: list[Path], out_dir: Path, clusters: int, device: str):
    from audiolm_lib.interfaces import SemanticTokenizerProtocol
    from audiolm_lib.serialization import load_pretrained

    from audiolm_lib.semantic.feature_base import PITCH_KINDS, SPECTRAL_KINDS

    if spec not in SPECTRAL_KINDS + PITCH_KINDS:
        if not Path(spec).exists():
            raise FileNotFoundError(f"tokenizer checkpoint folder not found: {spec} (or use --tokenizer mfcc)")
        return load_pretrained(spec, map_location=device, kind=SemanticTokenizerProtocol,
                               what="semantic tokenizer (--tokenizer)")
    from audiolm_lib.datasets.manifest import read_manifest
    from audiolm_lib.semantic.tokenizer import fit_tokenizer

    fitted = out_dir / FITTED_TOKENIZER_DIR
    if (fitted / "config.json").exists():  # fitted by an earlier (interrupted) run: reuse, so the cache resumes
        typer.echo(f"using the {spec} tokenizer fitted earlier: {fitted}")
        return load_pretrained(fitted, map_location=device)
    from audiolm_lib.audio import AudioError, audio_info

    files = []
    for entry in (e for m in manifests for e in read_manifest(m) if e.get("split", "train") == "train"):
        try:  # unreadable files (a FIFO too) are left to the cache build, which lists them in errors.jsonl
            audio_info(entry["audio"])
        except AudioError:
            continue
        files.append(entry["audio"])
    if not files:
        raise ValueError("no train-split audio to fit the tokenizer on")
    typer.echo(f"fitting a {spec} tokenizer ({clusters} clusters) on {len(files)} train files")
    model = fit_tokenizer(files, spec, clusters, device=device)
    model.save_pretrained(fitted)
    return model.to(device)


def register(app: typer.Typer) -> None:
    app.command("tokenize")(tokenize_command)
