"""``modelport up``, ``status`` and ``down``: the whole system on one machine.

``status`` also shows each endpoint's traffic from hosting's ``GET /metrics`` (two scrapes a moment apart,
or refreshed with ``--watch``): requests/s, ModelLatency p50/p99, OverheadLatency p99 and error rates.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

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
    already serving the same archive are left as they are. Hosting and the gateway run in one process, each
    on its own port (log: MODELPORT_HOME/logs/services.log); the gateway calls hosting's Runtime API in that
    process. Ctrl-C (or SIGTERM) stops everything.
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


def status(
    interval: float = typer.Option(2.0, "--interval", min=0.1, max=300.0,
                                   help="Seconds between the two scrapes of hosting's /metrics the traffic is measured over."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Keep measuring and redrawing the traffic table until Ctrl-C."),
    hosting_url: Optional[str] = typer.Option(None, "--hosting-url", help="Read this hosting's traffic (default: the "
                                              "stack's; needed when no `modelport up` runs, e.g. http://127.0.0.1:8001)."),
) -> None:
    """Show whether a stack started by `modelport up` is running, its endpoints, and their traffic:
    requests/s, p50/p99 latency and error rates from hosting's /metrics."""
    from modelport.stack import state

    home = _home()
    record = state.read(home)
    if record is None and hosting_url is None:
        typer.echo("modelport is not running (start it with `modelport up`).")
        raise typer.Exit(1)
    if record is not None:
        _print_status(record)
        try:
            from modelport.hosting.client import local_clients

            sm, _ = local_clients(record["hosting"])
            for endpoint in sm.list_endpoints()["Endpoints"]:
                typer.echo(f"  - {endpoint['EndpointName']}: {endpoint['EndpointStatus']}")
        except Exception as exc:  # noqa: BLE001 - status must print what it can
            typer.echo(f"  (hosting did not answer: {exc})")
    _print_traffic(hosting_url or record["hosting"], home, interval, watch)


def _print_traffic(url: str, home: Path, interval: float, watch: bool) -> None:
    """The traffic table from two scrapes of hosting's /metrics (redrawn until Ctrl-C with ``watch``)."""
    import httpx
    from rich.console import Console
    from rich.live import Live

    from modelport.metrics import scrape
    from modelport.token import TokenError, hosting_token

    try:
        headers = {"Authorization": f"Bearer {hosting_token(home)}"}
    except (TokenError, OSError) as exc:
        typer.echo(f"  (cannot read hosting's token for its metrics: {exc})")
        return

    def fetch() -> str:
        response = httpx.get(url.rstrip("/") + "/metrics", headers=headers, timeout=5)
        if response.status_code == 404:
            raise LookupError("hosting's metrics are off (MODELPORT_METRICS=0)")
        response.raise_for_status()
        return response.text

    console = Console()
    try:
        if not watch:
            console.print(_traffic_table(scrape.watch(fetch, interval), interval))
            return
        with Live(_traffic_table([], interval), console=console, auto_refresh=False) as live:
            while True:
                live.update(_traffic_table(scrape.watch(fetch, interval), interval), refresh=True)
    except KeyboardInterrupt:
        return
    except LookupError as exc:
        typer.echo(f"  ({exc})")
    except httpx.HTTPError as exc:
        typer.echo(f"  (hosting's /metrics did not answer: {exc})")


def _traffic_table(rows, interval: float):  # noqa: ANN001, ANN202 - scrape.EndpointRates, a rich Table
    from rich.table import Table

    def ms(micros: float | None) -> str:
        return "-" if micros is None else f"{micros / 1000:.2f}"

    def share(rate: float | None) -> str:
        return "-" if rate is None else f"{rate:.1%}"

    table = Table("endpoint", "requests/s", "p50 ms", "p99 ms", "overhead p99 ms", "4XX", "5XX",
                  title=f"traffic over {interval:g} s (hosting's /metrics; latency = ModelLatency)", title_justify="left")
    for row in rows:
        errors = "red" if (row.error_rate_5xx or 0) > 0 else None
        table.add_row(row.endpoint or "(none)", f"{row.requests_per_second:.1f}", ms(row.p50_us), ms(row.p99_us),
                      ms(row.overhead_p99_us), share(row.error_rate_4xx), share(row.error_rate_5xx), style=errors)
    if not rows:
        table.add_row("(no endpoint has served yet)", "", "", "", "", "", "")
    return table


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
