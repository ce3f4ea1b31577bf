"""Bring the whole stack up on this machine, keep it running, and take it down cleanly."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from modelport.config import HOME_ENV
from modelport.resources import page_dir as installed_page_dir
from modelport.stack import bundled, preflight, state
from modelport.stack.processes import ManagedProcess
from modelport.stack.services import HOSTING_HOST
from modelport.stack.settings import StackSettings
from modelport.token import hosting_token

SERVICES_LOG = "services.log"  # hosting's and the gateway's output, under MODELPORT_HOME/logs


@dataclass
class UpOptions:
    """What ``modelport up`` was asked to do."""

    host: str = "127.0.0.1"
    port: int = 8000
    hosting_port: int = 8001
    fast: bool = False
    retrain: bool = False
    home: Path = field(default_factory=lambda: StackSettings().home)
    page_dir: Path = field(default_factory=installed_page_dir)


class Stack:
    """hosting + bundled endpoints + gateway (+ page): hosting and the gateway in one child process of this one
    (``modelport.stack.services``), the endpoints' instances under hosting."""

    def __init__(self, options: UpOptions, console: Console | None = None):
        self.options = options
        self.console = console or Console(stderr=True)
        self.home = options.home.resolve()
        self.hosting_url = f"http://{HOSTING_HOST}:{options.hosting_port}"
        self.gateway_url = f"http://{options.host}:{options.port}"
        self.services: ManagedProcess | None = None
        self.endpoints: list[dict] = []
        self.stop_requested = threading.Event()

    # --- environment for the children ------------------------------------------------------

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("AWS_ACCESS_KEY_ID", "modelport")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "modelport")
        env.setdefault("AWS_REGION", "us-east-1")
        env[HOME_ENV] = str(self.home)
        return env

    def _services_env(self, names: list[str]) -> dict[str, str]:
        """Hosting's environment plus the gateway's settings. The gateway reads hosting's token from the token
        file, as hosting does, so the token is not put in an environment that endpoint instances inherit."""
        env = self._base_env()
        env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = self.hosting_url
        env["AWS_ENDPOINT_URL_SAGEMAKER"] = self.hosting_url
        for name, variable in bundled.BUNDLED.items():
            if name in names:
                env[variable] = name
        if "chat" in names:
            env.setdefault("CHAT_ENDPOINT", "chat")
        if (self.options.page_dir / "index.html").is_file():
            env["MODELPORT_PAGE_DIR"] = str(self.options.page_dir)
        return env

    # --- steps -----------------------------------------------------------------------------

    def start(self) -> None:
        """Check, train, start hosting, deploy, start the gateway. Raises RuntimeError on failure."""
        options = self.options
        checked = preflight.check(
            {"gateway": (options.host, options.port), "hosting": (HOSTING_HOST, options.hosting_port)},
            self.home, options.page_dir,
        )
        for note in checked.notes:
            self.console.print(f"[yellow]note:[/] {note}")
        if not checked.ok:
            raise RuntimeError("\n".join(checked.problems))
        from modelport.hosting.auth import is_loopback_address

        if not is_loopback_address(options.host):
            self.console.print(
                f"[yellow]note:[/] the gateway (page and API) listens on {options.host}, so other machines reach it; "
                f"hosting stays on {HOSTING_HOST}. Set MODELPORT_API_KEYS (and MODELPORT_RATE_LIMIT) to require keys "
                f"and ALLOWED_ORIGINS to the page's origins; see docs/security.md."
            )
        self.token = hosting_token(self.home)

        names = bundled.bundled_names()
        models = bundled.ensure(self.home, names, options.fast, options.retrain, announce=self._say)
        self.models = models
        self.services = ManagedProcess(
            "hosting and gateway",
            ["modelport.stack.services", "--hosting-port", str(options.hosting_port),
             "--gateway-host", options.host, "--gateway-port", str(options.port)],
            self.home / "logs" / SERVICES_LOG, self._services_env(names),
        )
        self._say(f"starting hosting on {self.hosting_url} and the gateway on {self.gateway_url} (one process)")
        self.services.start()
        self.services.wait_http(self.hosting_url + "/", timeout=60, ok=lambda r: True)
        self._deploy(models)
        self.services.wait_http(self.gateway_url + "/health", timeout=60, ok=lambda r: r.status_code == 200)
        # the gateway caches endpoint status a few seconds: "up" means the page already sees every endpoint ready
        deployed = {endpoint["name"] for endpoint in self.endpoints}
        self.services.wait_http(self.gateway_url + "/models", timeout=30, ok=lambda r: _all_in_service(r, deployed))

    def _deploy(self, models: list[bundled.TrainedModel]) -> None:
        from modelport.hosting.client import local_clients, wait_for_endpoint
        from modelport.stack.deploy import deploy

        sm, _ = local_clients(self.hosting_url, token=self.token)
        for model in models:
            started = time.monotonic()
            with self.console.status(f"deploying endpoint {model.name}"):
                action = deploy(sm, model.name, model.archive, environment=bundled.ENVIRONMENT.get(model.name),
                                wait=lambda name: wait_for_endpoint(sm, name, timeout=300))
            self.endpoints.append({"name": model.name, "action": action, "seconds": time.monotonic() - started})

    def _say(self, message: str) -> None:
        self.console.print(f"[bold cyan]modelport[/] {message}")

    # --- summary ---------------------------------------------------------------------------

    def record(self, detached: bool) -> dict:
        """What ``status`` and ``down`` need to know."""
        return {
            "pid": os.getpid(),
            "started": time.time(),
            "detached": detached,
            "host": self.options.host,
            "gateway": self.gateway_url,
            "hosting": self.hosting_url,
            "page": self.gateway_url + "/" if (self.options.page_dir / "index.html").is_file() else None,
            "docs": self.gateway_url + "/docs",
            "endpoints": [e["name"] for e in self.endpoints],
            "pids": {"services": self.services.process.pid},  # hosting and the gateway
            "logs": str(self.home / "logs"),
        }

    def print_summary(self) -> None:
        """URLs, endpoints with held-out metrics, and how to call them."""
        console = self.console
        table = Table(title="endpoints", show_lines=False)
        for column in ("endpoint", "status", "deploy", "held-out metric"):
            table.add_column(column)
        for endpoint, model in zip(self.endpoints, self.models):
            table.add_row(endpoint["name"], "InService", f"{endpoint['action']} ({endpoint['seconds']:.1f} s)", _headline(model.metrics))
        console.print(table)
        page = f"{self.gateway_url}/" if (self.options.page_dir / "index.html").is_file() else "(page not built)"
        console.print(
            f"\n[bold green]modelport is up[/]\n"
            f"  page         {page}\n"
            f"  API docs     {self.gateway_url}/docs\n"
            f"  gateway API  {self.gateway_url}   (GET /health, GET /models, POST /predict/NAME)\n"
            f"  hosting API  {self.hosting_url}   (SageMaker control + runtime APIs; token: `modelport hosting token`)\n"
            f"  logs         {self.home / 'logs'}\n\n"
            f"  curl -s -X POST {self.gateway_url}/predict/sentiment -H 'Content-Type: application/json' \\\n"
            f"       -d '{{\"text\": \"what a great day\"}}'\n"
            f"  python -c \"import boto3; rt = boto3.client('sagemaker-runtime', endpoint_url='{self.hosting_url}', "
            f"region_name='us-east-1', aws_access_key_id='$(modelport hosting token)', aws_secret_access_key='x'); "
            f"print(rt.invoke_endpoint(EndpointName='sentiment', ContentType='application/json', "
            f"Body=b'{{\\\"text\\\": \\\"so sad\\\"}}')['Body'].read())\"\n",
            soft_wrap=True,
        )

    # --- run and stop ----------------------------------------------------------------------

    def wait(self) -> int:
        """Block until asked to stop or a service dies; return the exit code."""
        while not self.stop_requested.wait(0.5):
            if not self.services.running:
                self.console.print(f"[red]{self.services.name} stopped unexpectedly[/]:\n{self.services.log_tail()}")
                return 1
        return 0

    def stop(self) -> None:
        """Stop the service process: the gateway first, then hosting (which stops every endpoint instance and
        saves state)."""
        if self.services is not None:
            self.services.stop()


def _all_in_service(answer, endpoints: set[str]) -> bool:
    """Whether the gateway's ``GET /models`` answer shows every endpoint in ``endpoints`` InService."""
    try:
        models = answer.json().get("models", []) if answer.status_code == 200 else None
    except ValueError:
        models = None
    if models is None:
        return False
    status = {m.get("endpoint"): m.get("status") for m in models if m.get("endpoint")}
    return all(status.get(name, "InService") == "InService" for name in endpoints)


def _headline(metrics: dict) -> str:
    bar = metrics.get("bar") or {}
    if "metric" in bar and isinstance(bar.get("value"), (int, float)):
        met = "" if bar.get("met", True) else " [below bar]"
        fast = " (fast)" if metrics.get("fast") else ""
        return f"{bar['metric']} {bar['value']:.4f}{fast}{met}"
    perplexity = (metrics.get("held_out") or {}).get("perplexity")
    if isinstance(perplexity, (int, float)):
        return f"perplexity {perplexity:.2f}{' (fast)' if metrics.get('fast') else ''}"
    return "-"


def run(options: UpOptions, detached: bool = False) -> int:
    """``modelport up`` in this process: start, print, serve until SIGINT/SIGTERM, stop."""
    stack = Stack(options)
    signal.signal(signal.SIGTERM, lambda *_: stack.stop_requested.set())
    signal.signal(signal.SIGINT, lambda *_: stack.stop_requested.set())
    code = 0
    try:
        stack.start()
        if stack.stop_requested.is_set():
            return 0
        state.write(stack.home, stack.record(detached))
        stack.print_summary()
        stack.console.print("Press Ctrl-C to stop." if not detached else "Stop with `modelport down`.")
        code = stack.wait()
    except RuntimeError as exc:
        stack.console.print(f"[red]modelport up failed:[/] {exc}")
        code = 1
    except Exception:  # noqa: BLE001 - a failed step (training, deploy) must still stop what started
        stack.console.print_exception()
        stack.console.print("[red]modelport up failed[/] (the error is above)")
        code = 1
    finally:
        stack.console.print("stopping ...")
        stack.stop()
        state.clear(stack.home, os.getpid())
        stack.console.print("stopped.")
    return code
