"""``audiolm assemble``: put separately trained parts together into one AudioLM folder."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

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
    coarse: Optional[Path] = typer.Option(None, help="Coarse stage (audiolm train coarse OUT -> OUT/model)."),
    fine: Optional[Path] = typer.Option(None, help="Fine stage (audiolm train fine OUT -> OUT/model)."),
    acoustic: Optional[Path] = typer.Option(None, help="Instead of --coarse/--fine: a parallel acoustic model "
                                            "(audiolm train parallel OUT -> OUT/model)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write into an existing non-empty OUT_DIR."),
) -> None:
    """Check that trained parts share one token space and save them as one AudioLM for `audiolm continue`."""
    from audiolm_lib.interfaces import CodecProtocol, SemanticTokenizerProtocol
    from audiolm_lib.lm.parallel import ParallelAcousticLM
    from audiolm_lib.lm.stages import CoarseLM, FineLM, SemanticLM
    from audiolm_lib.outputs import check_output_dir
    from audiolm_lib.pipeline import AudioLM
    from audiolm_lib.serialization import load_pretrained

    if acoustic is not None and (coarse is not None or fine is not None):
        raise ValueError("give --coarse and --fine, or --acoustic (a parallel acoustic model), not both")
    if acoustic is None and (coarse is None or fine is None):
        raise ValueError("give both --coarse and --fine, or --acoustic (a parallel acoustic model)")
    given = [p for p in (tokenizer, codec, semantic, coarse, fine, acoustic) if p is not None]
    check_output_dir(out_dir, "AudioLM folder (OUT_DIR)", inputs=given + [_model_dir(Path(p)) for p in given],
                     fresh=True, overwrite=overwrite)

    def load(option: str, path: Path, kind: type, what: str):
        return load_pretrained(_model_dir(Path(path)), kind=kind, what=f"{what} ({option})")

    parts = [load("--tokenizer", tokenizer, SemanticTokenizerProtocol, "semantic tokenizer"),
             load("--codec", codec, CodecProtocol, "codec"), load("--semantic", semantic, SemanticLM, "semantic stage")]
    if acoustic is not None:
        model = AudioLM(*parts, acoustic=load("--acoustic", acoustic, ParallelAcousticLM, "parallel acoustic model"))
    else:  # AudioLM refuses parts trained for different vocabularies, codebooks or rates
        model = AudioLM(*parts, load("--coarse", coarse, CoarseLM, "coarse stage"), load("--fine", fine, FineLM, "fine stage"))
    model.save_pretrained(out_dir)
    typer.echo(f"wrote {out_dir} (sample rate {model.sample_rate} Hz, {model.num_quantizers} levels, acoustic "
               f"generator {type(model.acoustic).__name__})")


def register(app: typer.Typer) -> None:
    app.command("assemble")(assemble)
