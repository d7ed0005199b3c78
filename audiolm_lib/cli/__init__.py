"""The ``audiolm`` command.

Each command group lives in its own module of this package and exposes ``register(app)``; heavy
imports happen inside the commands so ``audiolm --help`` stays fast.
"""
from __future__ import annotations

import importlib

import typer
from typer.core import TyperCommand, TyperGroup

COMMAND_MODULES = ("data", "semantic", "tokenize", "train", "assemble", "demo", "eval", "bench", "serve")


class _FlagsAsFlags:
    """Help that shows on/off flags (``--help`` included) as flags: typer labels them ``<bool>``, as if they took
    a value."""

    def _tidy(self) -> None:
        for param in self.params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class _Command(_FlagsAsFlags, TyperCommand):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tidy()


class _Group(_FlagsAsFlags, TyperGroup):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tidy()


def _print_version(value: bool) -> None:
    if value:
        from audiolm_lib import __version__

        typer.echo(f"audiolm {__version__}")
        raise typer.Exit()


def _main_options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Hierarchical audio language models: build data, train codec/tokenizer/stages, continue audio."""


def _plain(cls, base) -> bool:
    """``cls`` is typer's default class ``base`` (possibly wrapped in typer's ``Default`` marker)."""
    return getattr(cls, "value", cls) in (None, base)


def _use_help_classes(app: typer.Typer) -> None:
    for info in (app.info, app.registered_callback):
        if info is not None and _plain(info.cls, TyperGroup):
            info.cls = _Group
    for info in app.registered_commands:
        if _plain(info.cls, TyperCommand):
            info.cls = _Command
    for group in app.registered_groups:
        if _plain(group.cls, TyperGroup):
            group.cls = _Group
        _use_help_classes(group.typer_instance)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="audiolm",
        help="Hierarchical audio language models: build data, train codec/tokenizer/stages, continue audio.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_main_options)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"audiolm_lib.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"audiolm_lib.cli.{name}":
                continue  # command group not present in this version
            raise
        module.register(app)
    _use_help_classes(app)
    return app


def main() -> None:
    build_app()()
