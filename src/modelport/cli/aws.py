"""`modelport aws deploy|status|destroy`: the same archives, gateway and page on real AWS."""

from __future__ import annotations

from pathlib import Path

import typer


aws_app = typer.Typer(
    name="aws",
    help="Deploy the models, gateway and page to real AWS (SageMaker, Lambda, API Gateway HTTP API, S3), "
    "show their status, or remove them. Settings: a TOML file (--config), MODELPORT_AWS_* environment "
    "variables, then these options; credentials: the usual AWS ones (profile, env, role). See docs/aws.md.",
    no_args_is_help=True,
)

CONFIG = typer.Option(None, "--config", "-c", help="TOML settings file (see docs/aws.md for every key).")
STACK = typer.Option(None, "--stack", help="Stack name: prefixes and tags every resource (default modelport).")
REGION = typer.Option(None, "--region", help="AWS region (default: AWS_REGION, else us-east-1).")
MODEL = typer.Option(None, "--model", "-m", help="NAME=PATH of a model.tar.gz; repeat for more. "
                     "Default: the bundled models in $MODELPORT_HOME/bundled.")


def _settings(config: Path | None, **overrides):
    from modelport.aws.settings import SettingsError, load_settings, parse_model_list
    from modelport.settings import get_settings

    models = overrides.pop("models", None)
    try:
        if models:
            overrides["models"] = parse_model_list(",".join(models))
        return load_settings(config, overrides=overrides, home=get_settings().home)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _calls(settings, plan: bool):
    from modelport.aws.calls import Calls

    return Calls(region=settings.region, plan=plan)


def _print_plan(calls) -> None:
    typer.echo(f"plan: {len(calls.planned)} call(s) would be made (reads already done):")
    for number, call in enumerate(calls.planned, 1):
        typer.echo(f"{number:3d}. {call.render()}")


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1) from exc


@aws_app.command("deploy")
def deploy_command(
    config: Path = CONFIG, stack: str = STACK, region: str = REGION, model: list[str] = MODEL,
    plan: bool = typer.Option(False, "--plan", help="Dry run: read what exists, print every call that would "
                              "change something, change nothing."),
    page_dir: str = typer.Option(None, "--page-dir", help="Built page to publish (default: the page installed with modelport; '' for none)."),
    bedrock_model_id: str = typer.Option(None, "--bedrock-model-id", help="Bedrock model for POST /chat."),
    instance_type: str = typer.Option(None, "--instance-type", help="SageMaker instance type, e.g. ml.m5.large."),
    serverless_memory_mb: int = typer.Option(None, "--serverless-memory-mb",
                                             help="Use serverless endpoints with this memory (1024..6144)."),
    autoscale: str = typer.Option(None, "--autoscale", help="MIN:MAX:TARGET: autoscale each endpoint between MIN and "
                                  "MAX instances, tracking TARGET invocations per instance per minute."),
) -> None:
    """Deploy or update the stack: archives → SageMaker endpoints, gateway → Lambda + HTTP API, page → S3.

    Re-running is safe: unchanged models are left alone, changed ones are updated blue/green
    (UpdateEndpoint), and nothing is created twice.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from modelport.aws.deploy import deploy
    from modelport.aws.errors import DeployError
    from modelport.aws.images import ImageError
    from modelport.aws.lambda_zip import ZipBuildError
    from modelport.aws.progress import Progress
    from modelport.settings import get_settings

    settings = _settings(config, stack=stack, region=region, models=model, page_dir=page_dir,
                         bedrock_model_id=bedrock_model_id, instance_type=instance_type,
                         serverless_memory_mb=serverless_memory_mb, autoscale=autoscale)
    calls = _calls(settings, plan)
    typer.echo(f"{'planning' if plan else 'deploying'} stack {settings.stack} in {settings.region}", err=True)
    try:
        result = deploy(settings, calls, Progress(), get_settings().home / "aws" / "wheels")
    except (ImageError, ZipBuildError, DeployError, FileNotFoundError, ValueError, ClientError, BotoCoreError,
            TimeoutError) as exc:
        _fail(exc)
    if plan:
        _print_plan(calls)
        return
    typer.echo(f"API:  {result.api_url}")
    if result.site_url:
        typer.echo(f"page: {result.site_url}")


@aws_app.command("status")
def status_command(
    config: Path = CONFIG, stack: str = STACK, region: str = REGION, model: list[str] = MODEL,
    probe: bool = typer.Option(False, "--probe", help="Also GET the API's /health and the page over HTTP."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    page_dir: str = typer.Option(None, "--page-dir", help="'' when the stack was deployed without the page."),
) -> None:
    """List the stack's resources and their health; exits 1 when something is missing or unhealthy."""
    from botocore.exceptions import BotoCoreError, ClientError
    from rich.console import Console
    from rich.table import Table

    from modelport.aws import status

    settings = _settings(config, stack=stack, region=region, models=model, page_dir=page_dir)
    try:
        rows = status.stack_status(settings, _calls(settings, False), probe=probe)
    except (ClientError, BotoCoreError) as exc:
        _fail(exc)
    if as_json:
        typer.echo(status.as_json(rows))
    else:
        table = Table(title=f"stack {settings.stack} ({settings.region})")
        for column in ("kind", "name", "state", "healthy", "detail"):
            table.add_column(column)
        for row in rows:
            table.add_row(row.kind, row.name, row.state, "yes" if row.healthy else "NO", row.detail)
        Console().print(table)
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@aws_app.command("destroy")
def destroy_command(
    config: Path = CONFIG, stack: str = STACK, region: str = REGION, model: list[str] = MODEL,
    plan: bool = typer.Option(False, "--plan", help="Dry run: print every delete call, delete nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove every resource of the stack in dependency order (safe to re-run; absent ones are skipped)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from modelport.aws.destroy import destroy
    from modelport.aws.errors import DeployError
    from modelport.aws.progress import Progress

    settings = _settings(config, stack=stack, region=region, models=model)
    if not plan and not yes:
        typer.confirm(f"Delete every resource of stack {settings.stack} in {settings.region}?", abort=True)
    calls = _calls(settings, plan)
    try:
        destroy(settings, calls, Progress())
    except (ClientError, BotoCoreError, DeployError, TimeoutError) as exc:
        _fail(exc)
    if plan:
        _print_plan(calls)
