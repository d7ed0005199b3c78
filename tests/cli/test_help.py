"""The ``audiolm`` command's help: ``-h`` everywhere, ``--version``, flags shown as flags, one meaning per short
option across all commands."""
import click
import typer
from typer.testing import CliRunner

from audiolm_lib import __version__
from audiolm_lib.cli import build_app

runner = CliRunner()


def _commands(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, path + (name,))


def test_version_and_short_help():
    result = runner.invoke(build_app(), ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"audiolm {__version__}"
    for args in (["-h"], ["train", "-h"], ["train", "parallel", "-h"], ["continue", "-h"]):
        result = runner.invoke(build_app(), args)
        assert result.exit_code == 0 and "Usage:" in result.output, args


def test_flags_show_no_value_type_and_short_options_mean_one_thing():
    root = typer.main.get_command(build_app())
    meanings: dict[str, set[str]] = {}
    for path, command in _commands(root):
        help_text = runner.invoke(build_app(), [*path, "--help"], terminal_width=200).output
        assert "<bool>" not in help_text, path
        for param in command.params:
            for opt in getattr(param, "opts", []) + getattr(param, "secondary_opts", []):
                if opt.startswith("-") and not opt.startswith("--"):
                    meanings.setdefault(opt, set()).add(param.name)
    assert meanings["-o"] == {"out"} and meanings["-s"] == {"seconds"}
    assert {opt: names for opt, names in meanings.items() if len(names) > 1} == {}
