"""``modelport hosting``: the control API and the Runtime API on one port, plus a small status API,
and the other AWS APIs a SageMaker SDK notebook calls (S3, STS, IAM, CloudWatch Logs), and Application Auto Scaling.

Requests are first told apart by the AWS service they are signed for (:mod:`.services`):
- ``s3`` — the S3 API over the local object store (:mod:`.s3`), path- or virtual-hosted-style;
- ``sts``, ``iam``, ``logs`` — :mod:`.aws_apis`; ``application-autoscaling`` — :mod:`.autoscaling.api`; any other
  signed service → an error naming it;
- ``sagemaker`` (and unsigned requests), by path:
  - ``POST /`` with ``X-Amz-Target: SageMaker.<Op>`` — the control plane (:mod:`.control_api`);
  - ``POST /endpoints/{name}/invocations`` and ``…/invocations-response-stream`` — the Runtime API;
    ``POST /endpoints/{name}/async-invocations`` — InvokeEndpointAsync (:mod:`.async_inference`);
  - ``GET /ping`` — hosting itself is up; ``GET /_modelport/endpoints/{name}/instances`` — instance states
    (and the instance templates');
    ``GET /_modelport/transform-jobs/{name}`` — a transform job's progress (records, bytes).
  - ``GET /metrics`` — Prometheus text format (:mod:`.metrics`; 404 with MODELPORT_METRICS=0). It needs the
    token like every route but ``/ping``: it names every endpoint (Prometheus: ``authorization`` with
    ``credentials_file`` pointing at the token file).

Every request passes the gate (:mod:`.auth`: the token, a loopback Host, no browser) before any route.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import signal
import threading
from pathlib import Path

from modelport import token as hosting_token
from modelport.settings import get_settings
from modelport.hosting import access, services
from modelport.hosting.async_inference.api import AsyncApi
from modelport.hosting.async_inference.worker import AsyncInference
from modelport.hosting.autoscaling.api import AutoscalingApi
from modelport.hosting.aws_apis import IamApi, LogsApi, StsApi, unknown_service
from modelport.hosting.auth import Gate, Refusal, check_bind
from modelport.hosting.control_api import ControlApi
from modelport.hosting.fleet import CommandFactory, serve_command
from modelport.hosting.http_hooks import HostingHttpApp
from modelport.metrics.series import CONTENT_TYPE as METRICS_CONTENT_TYPE
from modelport.hosting.model_data import LocalS3
from modelport.hosting.registry import Registry
from modelport.hosting.runtime_api import RuntimeApi
from modelport.hosting.s3 import S3Api
from modelport.hosting.service import Hosting
from modelport.hosting.settings import HostingSettings, get_hosting_settings
from modelport.net.messages import Request, Response
from modelport.net.server import HttpServer
from modelport.objectstore import ObjectStore

log = logging.getLogger(__name__)
_JSON = [("Content-Type", "application/json")]


def _json(status: int, body: object) -> Response:
    return Response(status, list(_JSON), json.dumps(body).encode())


class HomeInUse(RuntimeError):
    """Another hosting process already serves this MODELPORT_HOME."""


def _lock_home(home: Path):
    """Hold an exclusive lock on ``home`` so two hosting processes never run the same endpoints."""
    path = home / "hosting" / "hosting.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise HomeInUse(f"another modelport hosting already runs with MODELPORT_HOME={home.resolve()}; stop it, "
                        f"or give this one its own MODELPORT_HOME") from None
    return handle


class HostingApp:
    """The gate, then the request dispatcher over one :class:`Hosting` (and its object store, for S3)."""

    def __init__(self, hosting: Hosting, objects: ObjectStore, gate: Gate) -> None:
        self.hosting = hosting
        self.gate = gate
        self.control = ControlApi(hosting)
        self.runtime = RuntimeApi(hosting)
        hosting.async_inference = AsyncInference(hosting, self.runtime)
        self.async_api = AsyncApi(hosting.async_inference)
        self.s3 = S3Api(objects, hosting.settings.region)
        self.aws = {"sts": StsApi(hosting.settings), "iam": IamApi(hosting.settings), "logs": LogsApi(hosting.settings),
                    services.APPLICATION_AUTOSCALING: AutoscalingApi(hosting)}

    async def __call__(self, request: Request) -> Response:
        # the service was chosen from the head, with the body limit (http_hooks); the gate limits wrong
        # tokens per client address (the socket's peer)
        service = request.state or services.service_of(request.headers, request.query)
        refusal = self.gate.check(request.method, request.path, request.headers, request.query, request.client)
        if refusal is not None:
            return self._refused(request, service, refusal)
        if service == services.S3:
            return await self.s3.handle(request)
        if service in self.aws:
            return await self.aws[service].handle(request)
        if service != services.SAGEMAKER:
            return unknown_service(service, request)
        path = request.path
        if path.startswith("/endpoints/") and request.method == "POST":
            name, _, action = path[11:].partition("/")
            if action == "invocations":
                return await self.runtime.invoke(request, name)
            if action == "invocations-response-stream":
                return await self.runtime.invoke(request, name, stream=True)
            if action == "async-invocations":
                return await self.async_api.invoke(request, name)
        elif path == "/" and request.method == "POST":
            return await self.control.handle(request)
        elif path in ("/ping", "/health") and request.method == "GET":
            return _json(200, {"status": "ok"})  # open without a token, so it says nothing more
        elif path == "/metrics" and request.method == "GET" and self.hosting.metrics is not None:
            return Response(200, [("Content-Type", METRICS_CONTENT_TYPE)], self.hosting.metrics.render())
        elif path.startswith("/_modelport/endpoints/") and request.method == "GET":
            name, _, what = path[22:].partition("/")
            if what == "instances":
                return self._instances(name)
        elif path.startswith("/_modelport/transform-jobs/") and request.method == "GET":
            return self._transform_progress(path[27:])
        return _json(404, {"__type": "UnknownOperationException",
                           "message": f"No route for {request.method} {path}. Control API: POST / with "
                                      f"X-Amz-Target; Runtime API: POST /endpoints/NAME/invocations."})

    @staticmethod
    def _refused(request: Request, service: str, refusal: Refusal) -> Response:
        """The refusal in the shape the caller's client parses: S3's XML, the query protocol's XML (STS,
        IAM), else SageMaker's JSON (also what CloudWatch Logs' JSON clients read)."""
        if service == services.S3:
            status, headers, body = refusal.s3()
        elif service in ("sts", "iam"):
            status, headers, body = refusal.query_xml()
        else:
            status, headers, body = refusal.sagemaker()
        if request.method == "HEAD":  # S3 HeadObject/HeadBucket: the status alone says it
            body = b""
        return Response(status, headers, body)

    def _transform_progress(self, name: str) -> Response:
        row = self.hosting.transforms.store.get(name)
        if row is None:
            return _json(404, {"__type": "ValidationException", "message": f"No transform job {name}."})
        progress = self.hosting.transforms.progress(name) or {}
        return _json(200, {"TransformJobName": name, "TransformJobStatus": row["status"], **progress})

    def _instances(self, name: str) -> Response:
        live = self.hosting.live.get(name)
        if live is None:
            return _json(404, {"__type": "ValidationException", "message": f"Endpoint {name} is not running."})
        return _json(200, {"EndpointName": name, "Variants": [
            {"VariantName": f.name, "Weight": f.weight, "Unhealthy": f.unhealthy, "Instances": f.describe()}
            for f in live.fleets], "Templates": self.hosting.templates.describe()})


class HostingServer:
    """Runs hosting on an asyncio loop: :meth:`serve_forever` in the foreground, or :meth:`start` in a thread."""

    def __init__(
        self,
        home: Path | None = None,
        settings: HostingSettings | None = None,
        command: CommandFactory = serve_command,
        token: str | None = None,
    ) -> None:
        """``token`` defaults to MODELPORT_HOSTING_TOKEN, else the token file under ``home`` (created).

        Raises :class:`~modelport.hosting.auth.RemoteBindRefused` for a non-loopback host without
        ``allow_remote`` and an explicit token, and :class:`~modelport.token.TokenError` for a bad token.
        """
        self.settings = settings or get_hosting_settings()
        self.home = Path(home) if home is not None else get_settings().home
        self.command = command
        loaded = hosting_token.load(self.home) if token is None else hosting_token.given(token, "the caller")
        check_bind(self.settings.host, self.settings.allow_remote, loaded.explicit)
        self.token = loaded.value
        self.port = 0
        # the request handler its HTTP server serves (set in run); modelport up's gateway calls it in process
        self.http_app: HostingHttpApp | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop it serves on (once running): where :attr:`http_app` may be called in process."""
        return self._loop

    @property
    def thread_id(self) -> int | None:
        """The OS thread id of a server started with :meth:`start` (for CPU accounting)."""
        return self._thread.native_id if self._thread is not None else None

    @property
    def url(self) -> str:
        """Where the service answers (once started)."""
        return f"http://{self.settings.host}:{self.port}"

    @property
    def local_url(self) -> str:
        """Where processes on this machine reach the service (loopback even when bound to all addresses)."""
        host = self.settings.host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{self.port}"

    async def run(self, on_ready=None) -> None:
        """Serve until :meth:`stop` (or a signal) is received; endpoints that were InService are restored."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        lock = _lock_home(self.home)
        registry = Registry(self.home / "hosting" / "registry.db")
        objects = ObjectStore(self.home / "s3")
        hosting = Hosting(registry, self.settings, self.home, self.command)
        gate = Gate(self.token, allow_remote=self.settings.allow_remote)
        self.http_app = HostingHttpApp(HostingApp(hosting, objects, gate))
        http = HttpServer(self.http_app, busy_poll_seconds=self.settings.busy_poll_ms / 1000)
        try:
            self.port = await http.start(self.settings.host, self.settings.port)
            hosting.local_s3 = LocalS3(objects, self.port,
                                       access.s3_environment(self.local_url, self.token, self.settings.region))
            await hosting.templates.start()
            await hosting.restore()
            self._ready.set()
            if on_ready is not None:
                on_ready(self)
            await self._stopped.wait()
        finally:
            await http.close()
            await hosting.shutdown()
            registry.close()
            objects.close()
            lock.close()

    def serve_forever(self, on_ready=None) -> None:
        """Run in this thread until SIGINT/SIGTERM."""
        import uvloop

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_stop)
            await self.run(on_ready)

        uvloop.run(main())

    def request_stop(self) -> None:
        """Make :meth:`run` return (its instances stop, state is saved); call it on the server's loop."""
        if self._stopped is not None:
            self._stopped.set()

    def start(self, timeout: float = 30.0) -> "HostingServer":
        """Run in a background thread; return once it listens (tests, notebooks)."""
        import uvloop

        def target() -> None:
            try:
                uvloop.run(self.run())
            except BaseException as exc:  # reported to the starting thread
                self._error = exc
                self._ready.set()

        self._thread = threading.Thread(target=target, name="modelport-hosting", daemon=True)
        self._thread.start()
        self._ready.wait(timeout)
        if isinstance(self._error, HomeInUse):
            raise self._error
        if self._error is not None:
            raise RuntimeError(f"modelport hosting failed to start: {self._error}") from self._error
        if not self._ready.is_set():
            raise RuntimeError(f"modelport hosting did not start within {timeout:g} s")
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop a server started with :meth:`start` (its instances stop too)."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
