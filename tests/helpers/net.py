"""Helpers for the HTTP server tests: a net server in a thread, raw-socket exchanges, and the three real
servers (runtime, hosting, gateway) as processes with shortened limits."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import uvloop

from modelport.net.handler import HandlerConnection
from modelport.net.limits import HttpLimits
from modelport.net.server import HttpServer
from tests.helpers.processes import free_port, stop, wait_until_up
from tests.helpers.runtime import write_model
from tests.helpers.waiting import NotYet, eventually


class ThreadServer:
    """`with ThreadServer(app, header_timeout=1) as server:` serves `app` on net's server on 127.0.0.1."""

    def __init__(self, app, connection=HandlerConnection, **limits) -> None:
        self.app = app
        self.connection = connection
        self.limits = HttpLimits(**limits)
        self.ready = threading.Event()
        self.server: HttpServer | None = None
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=lambda: uvloop.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        self.server = HttpServer(self.app, limits=self.limits, connection=self.connection)
        self.port = await self.server.start("127.0.0.1", 0)
        self.ready.set()
        await self.stop.wait()
        await self.server.close()

    def __enter__(self) -> "ThreadServer":
        self.thread.start()
        assert self.ready.wait(10), "the server did not start"
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


def connect(port: int, timeout: float = 10) -> socket.socket:
    """A connected client socket."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


_unread: "weakref.WeakKeyDictionary[socket.socket, bytes]" = weakref.WeakKeyDictionary()


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("the server closed the connection")
    return chunk


def read_response(sock: socket.socket, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Read one response (status, lower-case headers, body) with Content-Length or chunked framing;
    bytes of a next (pipelined) response are kept for the next call."""
    sock.settimeout(timeout)
    data = _unread.pop(sock, b"")
    while b"\r\n\r\n" not in data:
        data += _recv(sock)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if status == 100 or "content-length" in headers:
        length = 0 if status == 100 else int(headers["content-length"])
        while len(rest) < length:
            rest += _recv(sock)
        body, rest = rest[:length], rest[length:]
    else:  # chunked
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += _recv(sock)
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            while len(rest) < size + 2:
                rest += _recv(sock)
            body, rest = body + rest[:size], rest[size + 2:]
            if size == 0:
                break
    if rest:
        _unread[sock] = rest
    return status, headers, body


def exchange(port: int, data: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes on a new connection and read one response."""
    with connect(port, timeout) as sock:
        sock.sendall(data)
        return read_response(sock, timeout)


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closes `sock` within `timeout` seconds (reading and dropping what it sends)."""
    sock.settimeout(timeout)

    def closed() -> bool:
        try:
            return not sock.recv(65536)  # b"": closed; bytes: read and dropped, not yet
        except (ConnectionResetError, BrokenPipeError):
            return True

    try:
        return eventually(closed, timeout, 0)
    except (NotYet, socket.timeout):
        return False


# --- the three real servers, as processes ------------------------------------------------------------

ECHO_MODEL = '''
import json
def model_fn(model_dir):
    return None
def input_fn(body, content_type):
    return body
def predict_fn(data, model):
    return {"bytes": len(data)}
def output_fn(prediction, accept):
    return json.dumps(prediction)
'''


def short_limits(**extra: str) -> dict[str, str]:
    """Environment that shortens the HTTP server's timeouts for a test."""
    env = {"MODELPORT_HTTP_HEADER_TIMEOUT": "2", "MODELPORT_HTTP_KEEPALIVE_TIMEOUT": "2",
           "MODELPORT_HTTP_BODY_TIMEOUT": "2", "MODELPORT_HTTP_LINGER_TIMEOUT": "2"}
    env.update(extra)
    return env


class ServerProcess:
    """One real server process: where it listens, its health path and a path that takes a body."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, ping: str, post: str, log: Path,
                 limit: int) -> None:
        self.name, self.argv, self.env, self.port = name, argv, env, port
        self.ping, self.post, self.log, self.limit = ping, post, log, limit
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self, max_open_files: int | None = None) -> "ServerProcess":
        """Start it (with at most ``max_open_files`` file descriptors per process if given); wait until it answers."""
        def limit_files() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, max_open_files))

        self.process = subprocess.Popen(self.argv, env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
                                        start_new_session=True, preexec_fn=limit_files if max_open_files else None)
        wait_until_up(self.url + self.ping, self.process, self.log.read_text, timeout=90)
        return self

    def stop(self) -> None:
        """SIGTERM it (SIGKILL 20 s later)."""
        stop(self.process)


def _base_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODELPORT_", "AWS_", "MNIST_", "SENTIMENT_", "ALLOWED_", "SAGEMAKER_"))}
    env["MODELPORT_HOME"] = str(home)
    env.update(extra)
    return env


def runtime_server(tmp: Path, script: str = ECHO_MODEL, workers: int = 1, **extra: str) -> ServerProcess:
    """`modelport serve` of a model (default: an echo), 1 worker, a 1 MB body limit."""
    model = write_model(tmp / "model", script)
    port = free_port()
    env = _base_env(tmp / "home", {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1", **extra})
    argv = [sys.executable, "-m", "modelport", "serve", str(model), "--port", str(port), "--workers", str(workers)]
    return ServerProcess("runtime", argv, env, port, "/ping", "/invocations", tmp / "runtime.log", 1024 * 1024)


def hosting_server(tmp: Path, **extra: str) -> ServerProcess:
    """`modelport hosting` (no endpoints needed: its limits hold for every path), 6 MB body limit."""
    port = free_port()
    env = _base_env(tmp / "home", extra)
    argv = [sys.executable, "-m", "modelport", "hosting", "--port", str(port)]
    return ServerProcess("hosting", argv, env, port, "/ping", "/endpoints/none/invocations", tmp / "hosting.log",
                         6 * 1024 * 1024)


def gateway_server(tmp: Path, **extra: str) -> ServerProcess:
    """`modelport gateway` with a 1 MB body limit (its model routes need no backend to refuse)."""
    port = free_port()
    env = _base_env(tmp / "home", {"MODELPORT_MAX_BODY_MB": "1", "MODELPORT_ACCESS_LOG": "0",
                                   "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://127.0.0.1:9", **extra})
    argv = [sys.executable, "-m", "modelport", "gateway", "--port", str(port)]
    return ServerProcess("gateway", argv, env, port, "/health", "/invoke/none", tmp / "gateway.log", 1024 * 1024)


SERVERS = {"runtime": runtime_server, "hosting": hosting_server, "gateway": gateway_server}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """The direct children of a process."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]
