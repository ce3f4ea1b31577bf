"""``modelport up``, ``status`` and ``down``: the whole system on one machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer


def _home() -> Path:
    from modelport.stack.settings import StackSettings

    return StackSettings().home.resolve()


def up(
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background; stop with `modelport down`."),
    fast: bool = typer.Option(False, "--fast", help="Train small models in seconds (demos, tests) when training is needed."),
    retrain: bool = typer.Option(False, "--retrain", help="Train every bundled model again, even when its archive is current."),
    port: int = typer.Option(8000, "--port", help="Port of the gateway (API + page)."),
    hosting_port: int = typer.Option(8001, "--hosting-port", help="Port of hosting (SageMaker control + runtime APIs)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address of the gateway (page + API); 0.0.0.0 shares it with "
                             "other machines (set MODELPORT_API_KEYS). Hosting always stays on 127.0.0.1."),
) -> None:
    """Start everything: train missing models, hosting, the bundled endpoints, the gateway and page.

    Models are trained only when their archive is missing or was built from other code. Endpoints
    already serving the same archive are left as they are. Ctrl-C (or SIGTERM) stops everything.
    State (data sets, models, logs) goes to MODELPORT_HOME: ./.modelport at the root of a modelport
    checkout, ~/.modelport anywhere else.
    """
    from modelport.stack import state
    from modelport.stack.settings import StackSettings
    from modelport.stack.up import UpOptions, run

    home = _home()
    running = state.read(home)
    if running is not None:
        typer.echo(f"modelport is already up (pid {running['pid']}): {running['gateway']}; stop it with `modelport down`.", err=True)
        raise typer.Exit(1)
    options = UpOptions(host=host, port=port, hosting_port=hosting_port, fast=fast, retrain=retrain, home=home)
    if not detach:
        raise typer.Exit(run(options, detached=StackSettings().is_detached))
    raise typer.Exit(_detach(home, [a for a in sys.argv[1:] if a not in ("--detach", "-d")]))


def _detach(home: Path, args: list[str]) -> int:
    """Start ``modelport up`` in the background and return once it is up (or failed)."""
    from modelport.config import HOME_ENV
    from modelport.stack import state
    from modelport.stack.settings import DETACHED_ENV

    log = home / "logs" / "stack.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelport", *args],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, HOME_ENV: str(home), DETACHED_ENV: "1"},
        )
    typer.echo(f"starting modelport in the background (pid {process.pid}); log: {log}", err=True)
    while True:
        record = state.read(home)
        if record is not None and record.get("pid") == process.pid:
            _print_status(record)
            return 0
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-25:])
            typer.echo(f"modelport up failed (exit code {process.returncode}):\n{tail}", err=True)
            return 1
        time.sleep(0.2)


def _print_status(record: dict) -> None:
    import httpx

    try:
        health = httpx.get(record["gateway"] + "/health", timeout=3).json()
        gateway = f"up ({health.get('status', 'ok')})"
    except (httpx.HTTPError, ValueError):
        gateway = "not answering"
    lines = [
        f"modelport is up (pid {record['pid']})",
        f"  page         {record.get('page') or '(page not built)'}",
        f"  API docs     {record['docs']}",
        f"  gateway      {record['gateway']}  {gateway}",
        f"  hosting      {record['hosting']}",
        f"  endpoints    {', '.join(record.get('endpoints', []))}",
        f"  logs         {record['logs']}",
    ]
    typer.echo("\n".join(lines))


def status() -> None:
    """Show whether a stack started by `modelport up` is running, and its endpoints."""
    from modelport.stack import state

    record = state.read(_home())
    if record is None:
        typer.echo("modelport is not running (start it with `modelport up`).")
        raise typer.Exit(1)
    _print_status(record)
    try:
        from modelport.hosting.client import local_clients

        sm, _ = local_clients(record["hosting"])
        for endpoint in sm.list_endpoints()["Endpoints"]:
            typer.echo(f"  - {endpoint['EndpointName']}: {endpoint['EndpointStatus']}")
    except Exception as exc:  # noqa: BLE001 - status must print what it can
        typer.echo(f"  (hosting did not answer: {exc})")


def down(timeout: float = typer.Option(60.0, help="Seconds to wait for a clean stop before killing.")) -> None:
    """Stop a stack started with `modelport up --detach` (or in another terminal)."""
    from modelport.stack import state

    home = _home()
    record = state.read(home)
    if record is None:
        typer.echo("modelport is not running.")
        return
    pid = int(record["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while state.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if state.pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        for child in record.get("pids", {}).values():
            try:
                os.killpg(int(child), signal.SIGKILL)
            except ProcessLookupError:
                pass
        typer.echo(f"modelport did not stop within {timeout:g} s and was killed.")
    state.state_file(home).unlink(missing_ok=True)
    typer.echo("modelport is down.")
