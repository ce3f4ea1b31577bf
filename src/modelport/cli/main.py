"""Entry point of the ``modelport`` command: every command is registered here, in the order ``--help`` lists them.

The command modules only define functions (and their groups: ``data``, ``hosting``, ``aws``); none of
them imports this module, so there is no import cycle and one table says what the command can do.
"""

from __future__ import annotations

import typer

from modelport import __version__
from modelport.cli import archive, aws, env, gateway, hosting, replay, serve, shadow, train, transform, up
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


COMMANDS = {
    "serve": serve.serve,  # one archive with SageMaker's container contract
    "pack": archive.pack_command,  # archives
    "check": archive.check_command,
    "train": train.train_command,  # the bundled models
    "deploy": hosting.deploy,  # clients of the local SageMaker
    "endpoints": hosting.endpoints,
    "describe": hosting.describe,
    "invoke": hosting.invoke,
    "delete": hosting.delete,
    "logs": hosting.logs,
    "transform": transform.transform,  # batch transform on hosting
    "replay": replay.replay,  # captured traffic against a candidate
    "gateway": gateway.gateway,  # the public API
    "up": up.up,  # everything on this machine
    "status": up.status,
    "down": up.down,
    "env": env.env,  # environment for unmodified AWS clients
}
GROUPS = {
    "data": train.data_app,  # data fetch
    "hosting": hosting.hosting_app,  # hosting (the service), hosting token
    "shadow": shadow.shadow_app,  # shadow report
    "aws": aws.aws_app,  # aws deploy | status | destroy
}

for _name, _function in COMMANDS.items():
    app.command(_name)(_function)
for _name, _group in GROUPS.items():
    app.add_typer(_group, name=_name)
