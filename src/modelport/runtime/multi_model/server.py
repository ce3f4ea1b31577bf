"""Run a multi-model server: bind the port, answer the management API until SIGTERM/SIGINT, then unload
every model (their runtimes stop with it)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Callable

from modelport.net.server import HttpServer
from modelport.runtime.environment import RuntimeEnvironment
from modelport.runtime.errors import StartupError
from modelport.runtime.multi_model.app import MultiModelApp
from modelport.runtime.multi_model.models import ModelTable
from modelport.runtime.supervisor import bind


def serve_store(store: str | Path, env: RuntimeEnvironment, on_ready: Callable[[float], None] | None = None,
                fork_targets: bool = False) -> int:
    """Serve the models of the folder ``store`` (loaded on request) until stopped; the exit code
    (``fork_targets``: this server was forked from a warm template; fork the models' runtimes from it)."""
    import uvloop

    text = str(store)
    folder = Path(text[len("file://"):] if text.startswith("file://") else text).expanduser()
    if not folder.is_dir():
        raise StartupError(f"{store} is not a folder; a multi-model server serves the archives or model folders "
                           f"inside one (its model store).")
    started = time.monotonic()
    sock = bind(env.host, env.port)
    table = ModelTable(folder, env.mme_load_timeout_s, fork_targets)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        server = HttpServer(MultiModelApp(table, env))
        server.serve(sock)
        if on_ready is not None:
            on_ready(time.monotonic() - started)
        try:
            await stop.wait()
        finally:
            await server.shutdown(grace_seconds=5.0)
            await table.close()

    try:
        uvloop.run(run())
    finally:
        sock.close()
    print("modelport: multi-model server stopped", file=sys.stderr, flush=True)
    return 0
