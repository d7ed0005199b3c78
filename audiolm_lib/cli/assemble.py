"""``audiolm assemble``: put separately trained parts together into one AudioLM folder."""
from __future__ import annotations

from pathlib import Path

import typer

from audiolm_lib.cli.common import friendly_errors


def _model_dir(path: Path) -> Path:
    """A trainer's output folder exports its model one level down (``out/model`` or ``out/codec``)."""
    if (path / "config.json").exists():
        return path
    for child in ("model", "codec", "tokenizer"):
        if (path / child / "config.json").exists():
            return path / child
    return path  # load_pretrained names the missing config.json


@friendly_errors
def assemble(
    out_dir: Path = typer.Argument(..., help="AudioLM folder to write (one sub-folder per component)."),
    tokenizer: Path = typer.Option(..., help="Semantic tokenizer folder (audiolm fit-kmeans --out)."),
    codec: Path = typer.Option(..., help="Codec folder (audiolm train codec OUT -> OUT/codec)."),
    semantic: Path = typer.Option(..., help="Semantic stage (audiolm train semantic OUT -> OUT/model)."),
    coarse: Path = typer.Option(..., help="Coarse stage (audiolm train coarse OUT -> OUT/model)."),
    fine: Path = typer.Option(..., help="Fine stage (audiolm train fine OUT -> OUT/model)."),
) -> None:
    """Check that trained parts share one token space and save them as one AudioLM for `audiolm continue`."""
    from audiolm_lib.pipeline import AudioLM
    from audiolm_lib.serialization import load_pretrained

    parts = [load_pretrained(_model_dir(Path(p))) for p in (tokenizer, codec, semantic, coarse, fine)]
    model = AudioLM(*parts)  # refuses parts trained for different vocabularies, codebooks or rates
    model.save_pretrained(out_dir)
    typer.echo(f"wrote {out_dir} (sample rate {model.sample_rate} Hz, {model.num_coarse}+{model.num_fine} levels)")


def register(app: typer.Typer) -> None:
    app.command("assemble")(assemble)
