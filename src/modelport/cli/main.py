"""Entry point of the ``modelport`` command: builds the Typer app from the command modules."""

from __future__ import annotations

import typer

from modelport import __version__
from modelport.config import HOME_HELP

app = typer.Typer(
    name="modelport",
    help="Take a trained model to a live, tested HTTP endpoint — on this machine or on AWS.\n\n" + HOME_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modelport {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """modelport: SageMaker-compatible model serving, locally and on AWS."""


# Each command module registers its commands on `app` when imported.
from modelport.cli import serve as _serve  # noqa: E402,F401
from modelport.cli import archive as _archive  # noqa: E402,F401
from modelport.cli import train as _train  # noqa: E402,F401
from modelport.cli import hosting as _hosting  # noqa: E402,F401
from modelport.cli import gateway as _gateway  # noqa: E402,F401
from modelport.cli import up as _up  # noqa: E402,F401
from modelport.cli import aws as _aws  # noqa: E402,F401
from modelport.cli import env as _env  # noqa: E402,F401
