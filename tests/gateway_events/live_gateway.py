"""Test helper: run a gateway app under a real uvicorn server on 127.0.0.1 in a background thread."""

from __future__ import annotations

import threading
import time

import uvicorn

from runtime_helpers import free_port  # noqa: F401 - re-exported: tests import it from here


class LiveGateway:
    """`with LiveGateway(app) as url:` serves `app` over real HTTP for the duration of the block."""

    def __init__(self, app) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
