"""``audiolm serve``: a local web page to continue an uploaded or recorded prompt and hear it as it streams."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from audiolm_lib.cli.common import friendly_errors


@friendly_errors
def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only; 0.0.0.0 exposes it to the network)."),
    port: int = typer.Option(7860, "--port", help="Port (0: any free one)."),
    model: Optional[List[Path]] = typer.Option(None, "--model", help="An AudioLM folder to offer (repeatable); default: the shipped speech and piano models."),
    max_seconds: float = typer.Option(60.0, "--max-seconds", help="Longest continuation a request may ask for."),
    max_prompt_seconds: float = typer.Option(60.0, "--max-prompt-seconds", help="Longest prompt accepted."),
    max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", help="Largest prompt file accepted."),
    int8: bool = typer.Option(True, "--int8/--no-int8", help="int8 Linear layers where measured faster (as audiolm continue)."),
    threads: int = typer.Option(0, "--threads", help="torch CPU threads (0: torch's default)."),
) -> None:
    """Serve a web page: upload or record a prompt, pick a model, length and temperature, hear the continuation
    while it streams and see the spectrogram of prompt | continuation."""
    from audiolm_lib.demo import default_checkpoint, has_checkpoint
    from audiolm_lib.web.server import ServeLimits, ServeState, make_server

    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {port}")
    limits = ServeLimits(max_seconds, max_prompt_seconds, max_upload_mb)
    if model:
        missing = [str(folder) for folder in model if not has_checkpoint(folder)]
        if missing:
            raise FileNotFoundError(f"not an AudioLM folder (no config.json): {', '.join(missing)}")
        choices = {folder.name or str(folder): folder for folder in model}
    else:
        choices = {kind: default_checkpoint(kind) for kind in ("speech", "piano") if has_checkpoint(default_checkpoint(kind))}
        if not choices:
            raise FileNotFoundError("no shipped checkpoints found; give --model FOLDER")
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    try:
        server = make_server(ServeState(choices, limits, int8=int8), host, port)
    except OSError as exc:
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound_host, bound_port = server.server_address[:2]
    typer.echo(f"serving {', '.join(choices)} on http://{bound_host}:{bound_port} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
