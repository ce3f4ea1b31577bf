"""`modelport env`: the environment that points unmodified AWS clients — the SageMaker Python SDK, boto3,
the AWS CLI — at modelport hosting for every service they call."""

from __future__ import annotations

import shlex
from typing import Optional

import typer

SHELLS = ("sh", "fish", "powershell")


def render(variables: dict[str, str], shell: str) -> str:
    """``variables`` as lines that set them in ``shell`` (sh covers bash and zsh)."""
    if shell == "fish":
        return "\n".join(f"set -gx {name} {shlex.quote(value)};" for name, value in variables.items())
    if shell == "powershell":
        return "\n".join(f"$env:{name} = '{value.replace(chr(39), chr(39) * 2)}'" for name, value in variables.items())
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in variables.items())


def hosting_environment(url: Optional[str] = None) -> dict[str, str]:
    """Every variable to set: AWS_ENDPOINT_URL, the token as access key id, the region, and the SDK config."""
    from modelport.settings import get_settings
    from modelport.hosting import access, sdk_config
    from modelport.hosting.settings import get_hosting_settings

    settings, home = get_hosting_settings(), get_settings().home
    from modelport.token import hosting_token

    variables = access.client_environment(url or settings.url, hosting_token(home), settings.region)
    variables["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(sdk_config.write_config(home, settings.region, settings.account))
    return variables


def env(
    shell: str = typer.Option("sh", "--shell", help="Syntax of the lines: sh (bash, zsh), fish or powershell."),
    url: Optional[str] = typer.Option(None, help="Hosting URL \\[env MODELPORT_HOSTING_URL; default http://127.0.0.1:8001]."),
) -> None:
    """Print the variables that point the SageMaker SDK, boto3 and the AWS CLI at modelport hosting.

    Use: eval "$(modelport env)" (fish: modelport env --shell fish | source; PowerShell:
    modelport env --shell powershell | Invoke-Expression). Writes the SageMaker SDK config
    (DefaultS3Bucket) under MODELPORT_HOME.
    """
    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell!r}: choose one of {', '.join(SHELLS)}", param_hint="--shell")
    typer.echo(render(hosting_environment(url), shell))
