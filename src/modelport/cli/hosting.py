"""`modelport hosting`, `deploy`, `endpoints`, `describe`, `invoke`, `delete`, `logs`: the local SageMaker.

`hosting` runs the service (`hosting token` prints its token); the other commands are SageMaker API
clients (boto3) pointed at it by ``MODELPORT_HOSTING_URL`` (default http://127.0.0.1:8001) with
hosting's token, except `logs`, which reads the instance logs under ``MODELPORT_HOME/logs``.
`deploy` runs :func:`modelport.hosting.deploy.deploy_archive` (the steps the SDK and `up` run too).
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from modelport.hosting.deploy import INSTANCE_TYPE

URL_HELP = "Hosting URL \\[env MODELPORT_HOSTING_URL; default http://127.0.0.1:8001]."


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _fail(message: str) -> None:
    _console().print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def env_pairs(items: list[str]) -> dict[str, str]:
    """``--env KEY=VALUE`` options as a dict; exits with a clear message on any other form."""
    environment = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"--env expects KEY=VALUE, got {item!r}")
        environment[key] = value
    return environment


def _clients(url: Optional[str]):
    from modelport.hosting.client import local_clients
    from modelport.token import TokenError

    try:
        return local_clients(url)
    except (TokenError, OSError) as exc:
        _fail(f"cannot read hosting's token: {exc}")


@contextmanager
def _reported() -> Iterator[None]:
    """Around boto3 calls: print SageMaker's error message and exit 1 instead of a traceback."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        _fail(f"{error.get('Code')}: {error.get('Message')}")
    except EndpointConnectionError as exc:
        _fail(f"cannot reach modelport hosting ({exc}). Start it with `modelport hosting`, or set "
              f"MODELPORT_HOSTING_URL.")


def _call(fn, **kwargs):
    """Run one boto3 call, its errors :func:`_reported`."""
    with _reported():
        return fn(**kwargs)


hosting_app = typer.Typer(
    invoke_without_command=True, add_completion=False,
    help="Run the local SageMaker (`modelport hosting`), or print its token (`modelport hosting token`).",
)


@hosting_app.callback()
def hosting(
    ctx: typer.Context,
    host: Optional[str] = typer.Option(None, help="Address to bind \\[env MODELPORT_HOSTING_HOST; default 127.0.0.1]. "
                                       "Anything but loopback needs --allow-remote and MODELPORT_HOSTING_TOKEN."),
    port: Optional[int] = typer.Option(None, help="Port of the control and runtime APIs \\[env MODELPORT_HOSTING_PORT; default 8001]."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Listen beyond loopback and accept any Host "
                                      "header \\[env MODELPORT_HOSTING_ALLOW_REMOTE]; needs MODELPORT_HOSTING_TOKEN."),
) -> None:
    """Run the local SageMaker: SageMaker's control API and Runtime API on one port.

    Point unmodified boto3 code at it with endpoint_url and hosting's token as the access key id
    (`modelport hosting token` prints it). Endpoints that were InService come back when it restarts;
    state lives in MODELPORT_HOME. Stop with Ctrl-C.
    """
    if ctx.invoked_subcommand is not None:
        return
    import logging

    from modelport.hosting.auth import RemoteBindRefused
    from modelport.hosting.server import HomeInUse, HostingServer
    from modelport.hosting.settings import get_hosting_settings
    from modelport.token import TokenError

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_hosting_settings()
    overrides = {"host": host, "port": port, "allow_remote": allow_remote or None}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})

    def announce(server: HostingServer) -> None:
        print(f"modelport hosting: SageMaker APIs on {server.url} (state in {server.home.resolve()})\n"
              f"  token: `modelport hosting token` (present it as aws_access_key_id, any secret key)\n"
              f"  boto3.client('sagemaker', endpoint_url='{server.url}', aws_access_key_id=TOKEN, ...)\n"
              f"  modelport deploy model.tar.gz --endpoint NAME\n"
              f"  eval \"$(modelport env)\"   # the SageMaker SDK, boto3 and the AWS CLI (S3 too) use it", file=sys.stderr,
              flush=True)

    try:
        HostingServer(settings=settings).serve_forever(on_ready=announce)
    except (HomeInUse, RemoteBindRefused, TokenError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}. Is another "
              f"`modelport hosting` running? Pass --port (or set MODELPORT_HOSTING_PORT).")


@hosting_app.command("token")
def token(
    rotate: bool = typer.Option(False, "--rotate", help="Replace the token file with a new random token "
                                "(restart hosting and `modelport up` afterwards)."),
) -> None:
    """Print hosting's token (MODELPORT_HOSTING_TOKEN, else MODELPORT_HOME/hosting/token, created if missing).

    Clients present it as the access key id (boto3: aws_access_key_id=TOKEN) or as 'Authorization: Bearer TOKEN'.
    """
    from modelport import token as hosting_token

    try:
        value = hosting_token.rotate() if rotate else hosting_token.hosting_token()
    except (hosting_token.TokenError, OSError) as exc:
        _fail(str(exc))
    print(value)
    if rotate:
        _console().print("a new token was written; restart hosting (and `modelport up`) to use it")


def deploy(
    archive: str = typer.Argument(..., help="model.tar.gz: a local path, file:// or s3:// URI."),
    endpoint: str = typer.Option(..., "--endpoint", "-e", help="Endpoint name (an existing one is updated blue/green)."),
    instances: int = typer.Option(1, "--instances", "-n", min=1, help="Instances (runtime processes) to run."),
    instance_type: str = typer.Option(INSTANCE_TYPE, help="Instance type recorded in the endpoint config."),
    env: List[str] = typer.Option([], "--env", help="KEY=VALUE for the model's Environment (repeatable)."),
    upload: Optional[str] = typer.Option(None, help="Upload the archive to this s3:// or file:// URI first and deploy from there."),
    copy: bool = typer.Option(True, help="Register a copy of a local archive under MODELPORT_HOME/artifacts (as "
                              "SageMaker keeps model data in S3), so the endpoint survives the original moving. "
                              "Without it the archive must lie under MODELPORT_HOME or MODELPORT_MODEL_ROOTS."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
    wait: bool = typer.Option(True, help="Wait until the endpoint is InService."),
    timeout: float = typer.Option(600.0, help="Seconds to wait."),
) -> None:
    """Deploy an archive: CreateModel, CreateEndpointConfig, then CreateEndpoint (or UpdateEndpoint)."""
    from modelport.hosting.deploy import DeployError, deploy_archive
    from modelport.store import StoreError

    environment = env_pairs(env)
    sm, _ = _clients(url)
    with _reported(), _console().status(f"deploying {archive} to endpoint {endpoint}") as status:
        try:
            done = deploy_archive(sm, archive, endpoint, instances=instances, instance_type=instance_type,
                                  environment=environment, upload=upload, copy=copy, wait=wait, timeout=timeout,
                                  progress=status.update)
        except (DeployError, StoreError, RuntimeError, TimeoutError) as exc:
            _fail(str(exc))
    if not wait:
        verb = {"created": "creating", "updated": "updating"}[done.action]
        print(f"{verb} endpoint {endpoint} (config {done.config}); check with `modelport describe {endpoint}`")
        return
    print(f"endpoint {endpoint} is InService (config {done.config}, {instances} instance(s))\n"
          f"  modelport invoke {endpoint} --body @request.json --content-type application/json")


def endpoints(url: Optional[str] = typer.Option(None, help=URL_HELP)) -> None:
    """List endpoints: status, config, instances ready/desired, and when they last changed."""
    from rich.console import Console
    from rich.table import Table

    sm, _ = _clients(url)
    table = Table("endpoint", "status", "config", "instances", "created", "last modified")
    paginator = sm.get_paginator("list_endpoints")
    from botocore.exceptions import ClientError, EndpointConnectionError

    try:
        rows = [e for page in paginator.paginate(SortBy="Name", SortOrder="Ascending") for e in page["Endpoints"]]
    except (ClientError, EndpointConnectionError) as exc:
        _fail(f"cannot list endpoints: {exc}")
    for e in rows:
        try:
            described = sm.describe_endpoint(EndpointName=e["EndpointName"])
        except ClientError:  # deleted since the listing
            continue
        variants = described.get("ProductionVariants", [])
        ready = sum(v.get("CurrentInstanceCount", 0) for v in variants)
        desired = sum(v.get("DesiredInstanceCount", 0) for v in variants)
        table.add_row(e["EndpointName"], e["EndpointStatus"], described.get("EndpointConfigName", ""),
                      f"{ready}/{desired}", f"{e['CreationTime']:%Y-%m-%d %H:%M:%S}",
                      f"{e['LastModifiedTime']:%Y-%m-%d %H:%M:%S}")
    Console().print(table if rows else "no endpoints")


def describe(
    name: str = typer.Argument(..., help="Endpoint name."),
    as_json: bool = typer.Option(False, "--json", help="Print DescribeEndpoint's JSON."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
) -> None:
    """Show an endpoint: status, config, variants (weights, instances) and any FailureReason."""
    from rich.console import Console
    from rich.table import Table

    sm, _ = _clients(url)
    described = _call(sm.describe_endpoint, EndpointName=name)
    described.pop("ResponseMetadata", None)
    if as_json:
        print(json.dumps(described, default=str, indent=2))
        return
    console = Console()
    console.print(f"[bold]{described['EndpointName']}[/bold]  {described['EndpointStatus']}  "
                  f"config {described['EndpointConfigName']}")
    table = Table("variant", "weight", "instances (ready/desired)", "status")
    for v in described["ProductionVariants"]:
        status = "; ".join(s.get("StatusMessage") or s["Status"] for s in v.get("VariantStatus", [])) or "ok"
        table.add_row(v["VariantName"], f"{v['CurrentWeight']:g}",
                      f"{v['CurrentInstanceCount']}/{v['DesiredInstanceCount']}", status)
    console.print(table)
    if described.get("FailureReason"):
        console.print(f"[yellow]FailureReason:[/yellow] {described['FailureReason']}")


def invoke(
    name: str = typer.Argument(..., help="Endpoint name."),
    body: str = typer.Option(..., "--body", "-b", help="The request body, or @FILE to read it from a file, or @- for stdin."),
    content_type: str = typer.Option("application/json", "--content-type", "-t", help="Content-Type of the body."),
    accept: Optional[str] = typer.Option(None, "--accept", "-a", help="Accept header."),
    variant: Optional[str] = typer.Option(None, "--variant", help="TargetVariant: send to this production variant."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
) -> None:
    """Invoke an endpoint through the SageMaker Runtime API and print the answer."""
    if body.startswith("@"):
        source = body[1:]
        try:
            data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        except OSError as exc:
            _fail(f"cannot read the body from {source}: {exc.strerror}")
    else:
        data = body.encode()
    _, rt = _clients(url)
    kwargs = {"EndpointName": name, "Body": data, "ContentType": content_type}
    if accept:
        kwargs["Accept"] = accept
    if variant:
        kwargs["TargetVariant"] = variant
    response = _call(rt.invoke_endpoint, **kwargs)
    payload = response["Body"].read()
    _console().print(f"[dim]{response.get('ContentType')} from variant {response.get('InvokedProductionVariant')}[/dim]")
    sys.stdout.buffer.write(payload + (b"" if payload.endswith(b"\n") else b"\n"))


def delete(
    name: str = typer.Argument(..., help="Endpoint name."),
    keep_config: bool = typer.Option(False, help="Keep the endpoint config and its models."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
) -> None:
    """Delete an endpoint (stopping its instances), and by default its endpoint config and models."""
    from modelport.hosting.client import wait_deleted

    sm, _ = _clients(url)
    described = _call(sm.describe_endpoint, EndpointName=name)
    config_name = described["EndpointConfigName"]
    models = []
    if not keep_config:
        from botocore.exceptions import ClientError

        try:
            config = sm.describe_endpoint_config(EndpointConfigName=config_name)
            models = [v["ModelName"] for v in config["ProductionVariants"]]
        except ClientError:
            config_name = None
    _call(sm.delete_endpoint, EndpointName=name)
    with _console().status(f"deleting endpoint {name}"):
        wait_deleted(sm, name)
    if not keep_config and config_name:
        _call(sm.delete_endpoint_config, EndpointConfigName=config_name)
        for model in models:
            from botocore.exceptions import ClientError

            try:
                sm.delete_model(ModelName=model)
            except ClientError:
                pass  # already deleted, or shared and deleted by another config's cleanup
    print(f"deleted endpoint {name}" + ("" if keep_config else f" with config {config_name} and model(s) {', '.join(models)}"))


def logs(
    name: str = typer.Argument(..., help="Endpoint name."),
    lines: int = typer.Option(50, "--lines", "-n", help="Lines to show from the end of each instance log."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines (Ctrl-C to stop)."),
) -> None:
    """Show the logs of an endpoint's instances (MODELPORT_HOME/logs/NAME), newest last."""
    from modelport.settings import get_settings

    folder = get_settings().path("logs", name)
    files = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime)
    if not files:
        _fail(f"no logs for endpoint {name} in {folder}")
    for path in files:
        text = path.read_text(errors="replace").splitlines()
        print(f"==> {path.name} <==")
        print("\n".join(text[-lines:]) if lines > 0 else "")
    if follow:
        _follow(files)


def _follow(files: List[Path]) -> None:
    positions = {p: p.stat().st_size for p in files}
    try:
        while True:
            for path in positions:
                size = path.stat().st_size
                if size < positions[path]:  # the log rotated: read the new file from its start
                    positions[path] = 0
                if size > positions[path]:
                    with path.open("r", errors="replace") as f:
                        f.seek(positions[path])
                        for line in f.read().splitlines():
                            print(f"{path.stem}: {line}", flush=True)
                    positions[path] = size
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass
