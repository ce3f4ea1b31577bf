"""Every command's ``--help`` shows each option's help in full: Rich reads ``[env …]`` or ``[default: …]``
as markup and drops it unless the bracket is escaped, so the test renders every command and looks for them."""
from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from modelport.cli.main import app

BRACKETED = re.compile(r"\\?\[((?:env|default)[^\]]*)\]")


def _commands(group, path: tuple[str, ...] = ()):
    """Every command under ``group`` with its path of names (typer's groups have ``commands``)."""
    yield path, group
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            yield from _commands(command, (*path, name))


def _words(text: str) -> str:
    return " ".join(text.split())


def test_bracketed_notes_in_option_help_are_shown():
    runner = CliRunner()
    root = typer.main.get_command(app)
    checked = 0
    for path, command in _commands(root):
        notes = [m.group(1) for p in command.params for m in BRACKETED.finditer(getattr(p, "help", None) or "")]
        if not notes:
            continue
        result = runner.invoke(app, [*path, "--help"], terminal_width=400, env={"COLUMNS": "400"})
        assert result.exit_code == 0, result.output
        shown = _words(result.output.replace("│", " "))
        for note in notes:
            assert _words(f"[{note}]") in shown, f"`modelport {' '.join(path)} --help` lost [{note}]"
            checked += 1
    assert checked >= 10  # the CLI has many such notes; finding none means the walk is broken
