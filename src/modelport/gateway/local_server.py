"""The gateway on this machine: its ASGI app on modelport's own HTTP server (``modelport.net.asgi``),
in one process or in N worker processes sharing one listening socket.

It runs on the server runtime and hosting use, not uvicorn, so the gateway has the same limits
(header-read timeout against slowloris, header size and count caps, a connection cap, bounded
pipelining, the lingering close that lets a client read an early 413) and writes each response in one
system call. ``POST /predict`` and ``/invoke`` take the server's direct lane (``app.direct``: no ASGI
scope, messages or middleware; the same steps and answers). In AWS Lambda the same app runs under
Mangum (``lambda_function.py``), all ASGI.

    python -m modelport.gateway.local_server --fd N --parent PID   (a worker; started by serve_workers)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from modelport.gateway.errors import STATUS_CODES, ApiError, error_body
from modelport.process import stop_all
from modelport.net.asgi_types import ASGIApp
from modelport.net.messages import Response

if TYPE_CHECKING:
    from modelport.net.asgi import AsgiApp

log = logging.getLogger("modelport.gateway")

GRACE_SECONDS = 5.0  # requests in progress may finish this long after SIGTERM
STOP_SECONDS = 10.0  # workers still running this long after SIGTERM are killed
RESTART_DELAY_SECONDS = 1.0
PARENT_CHECK_SECONDS = 1.0


def gateway_error(status: int, code: str, message: str) -> Response:
    """The gateway's JSON error shape for what the HTTP server refuses itself (431, 414, 408, 400, 413)."""
    snake = STATUS_CODES.get(status) or re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", code).lower()
    body = error_body(ApiError(status, snake, message, retryable=status == 408), None)
    return Response(status, [("content-type", "application/json")], body)


def serve_app(app: ASGIApp, sock: socket.socket, parent_pid: int | None = None) -> None:
    """Serve the gateway ``app`` on the listening ``sock`` until SIGTERM/SIGINT (or the parent is gone)."""
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if parent_pid is not None:
            _watch_parent(loop, parent_pid, stop)
        await serve_gateway(app, sock, stop)

    uvloop.run(main())


def server_app(app: ASGIApp) -> "AsgiApp":
    """The gateway ``app`` as modelport's HTTP server takes it: with its error shape, and its hot routes'
    direct lane when it has one (``app.direct``, set by ``create_app``)."""
    from modelport.net.asgi import AsgiApp

    return AsgiApp(app, error=gateway_error, direct=getattr(app, "direct", None))


async def serve_gateway(app: ASGIApp, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serve the gateway ``app`` on ``sock`` on the running loop until ``stop`` is set, then stop gracefully
    (requests in progress get ``GRACE_SECONDS``). Busy polling is the app's own (``Edge`` kicks it after each
    answer, never in Lambda)."""
    from modelport.net.asgi import serve_asgi

    await serve_asgi(server_app(app), sock, stop, grace_seconds=GRACE_SECONDS)


def _watch_parent(loop: asyncio.AbstractEventLoop, parent_pid: int, stop: asyncio.Event) -> None:
    """Stop when the parent process is gone (a worker is never left behind)."""
    def check() -> None:
        if os.getppid() != parent_pid:
            stop.set()
        else:
            loop.call_later(PARENT_CHECK_SECONDS, check)

    check()


def serve_workers(sock: socket.socket, workers: int) -> int:
    """Run ``workers`` processes serving the gateway on ``sock``; restart any that dies; stop on SIGTERM/SIGINT."""
    sock.set_inheritable(True)
    command = [sys.executable, "-m", "modelport.gateway.local_server", "--fd", str(sock.fileno()),
               "--parent", str(os.getpid())]

    def start() -> subprocess.Popen:
        return subprocess.Popen(command, pass_fds=(sock.fileno(),))

    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    processes = [start() for _ in range(workers)]
    try:
        while not stopping:
            time.sleep(0.2)
            for i, process in enumerate(processes):
                if process.poll() is not None and not stopping:
                    log.warning("gateway worker %d exited with %s; restarting it", process.pid, process.returncode)
                    time.sleep(RESTART_DELAY_SECONDS)
                    processes[i] = start()
    finally:
        stop_all(processes, STOP_SECONDS)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of one gateway worker process."""
    parser = argparse.ArgumentParser(description="modelport gateway worker (started by `modelport gateway --workers N`).")
    parser.add_argument("--fd", type=int, required=True, help="the inherited listening socket")
    parser.add_argument("--parent", type=int, required=True, help="stop when this process is gone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="[gateway worker] %(levelname)s %(name)s: %(message)s")
    from modelport.gateway.app import create_app

    serve_app(create_app(), socket.socket(fileno=args.fd), parent_pid=args.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
