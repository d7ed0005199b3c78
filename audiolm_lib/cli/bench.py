"""``audiolm bench``: run ``bench/run.py`` of the source checkout this package is installed from.

The benchmarks are scripts in the repository, not part of the installed package, so the command only works
for an editable install (``pip install -e .``) or a source checkout; elsewhere it says so plainly.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from audiolm_lib.cli.common import friendly_errors


def find_bench_script() -> Path:
    """``<repo>/bench/run.py`` next to the ``audiolm_lib`` package directory, or FileNotFoundError."""
    import audiolm_lib

    package_dir = Path(audiolm_lib.__file__).resolve().parent
    script = package_dir.parent / "bench" / "run.py"
    if not script.is_file():
        raise FileNotFoundError(
            f"no benchmark scripts next to the installed package (looked for {script}); "
            "`audiolm bench` needs a source checkout installed with `pip install -e .`"
        )
    return script


def register(app: typer.Typer) -> None:
    @app.command("bench")
    @friendly_errors
    def bench(
        device: str = typer.Option("cpu", help="cpu or cuda"),
        only: str = typer.Option(
            "", help="comma-separated parts: lm, codec, tokenizer, e2e (the default) and eval, layouts, data"
        ),
        quick: bool = typer.Option(False, help="1 repetition and small sizes (smoke test)"),
        peer: bool = typer.Option(False, help="also measure audiolm-pytorch 2.4.0 (bench/peer/setup_peer_env.sh)"),
        out: Optional[Path] = typer.Option(None, help="also write the JSON to this file"),
    ) -> None:
        """Median timings and peak memory of generation, training, codec and end-to-end rows as JSON."""
        from audiolm_lib.cli.common import check_device
        from audiolm_lib.outputs import check_output_file

        if device == "auto":
            raise ValueError(f"--device must be cpu or cuda, got {device!r}")
        check_device(device)
        if out is not None:
            check_output_file(out, (".json",), "benchmark results (--out)")  # before minutes of measuring
        command = [sys.executable, str(find_bench_script()), "--device", device]
        if only:
            command += ["--only", only]
        if quick:
            command.append("--quick")
        if peer:
            command.append("--peer")
        if out is not None:
            command += ["--out", str(out)]
        code = subprocess.call(command)
        if code:
            raise typer.Exit(code=code)
