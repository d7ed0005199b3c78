"""The ``audiolm`` command.

Each command group lives in its own module of this package and exposes ``register(app)``; heavy
imports happen inside the commands so ``audiolm --help`` stays fast.
"""
from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = ("data", "semantic", "tokenize", "train", "assemble", "demo", "eval", "bench", "serve")


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="audiolm",
        help="Hierarchical audio language models: build data, train codec/tokenizer/stages, continue audio.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"audiolm_lib.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"audiolm_lib.cli.{name}":
                continue  # command group not present in this version
            raise
        module.register(app)
    return app


def main() -> None:
    build_app()()
