"""Test helper: run a gateway app on modelport's HTTP server (as `modelport gateway` does) on 127.0.0.1
in a background thread."""

from __future__ import annotations

import asyncio
import threading

import uvloop

from modelport.gateway.hot_routes import HotRoutes
from modelport.gateway.local_server import server_app
from modelport.net.asgi import serve_asgi
from modelport.net.server import bind_socket


class LiveGateway:
    """`with LiveGateway(app) as url:` serves `app` over real HTTP for the duration of the block, on a thread of its
    own, or with ``loop`` on that running loop (hosting's, as ``modelport up`` serves the gateway in process)."""

    def __init__(self, app, limits=None, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.app = app
        self.limits = limits
        self.sock = bind_socket("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.ready = threading.Event()
        self.loop = loop
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=lambda: uvloop.run(self._serve()), daemon=True) if loop is None else None
        self.served = None  # the serving coroutine's future, on a given loop

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        await serve_asgi(server_app(self.app), self.sock, self.stop, limits=self.limits,
                         grace_seconds=1.0, lifespan=False, on_ready=self.ready.set)

    def __enter__(self) -> str:
        if self.thread is not None:
            self.thread.start()
        else:
            self.served = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)
        if not self.ready.wait(10):
            raise RuntimeError("the gateway did not start")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        if self.thread is not None:
            self.thread.join(timeout=10)
        else:
            self.served.result(timeout=10)
        self.sock.close()


def hosting_gateway_settings(hosting, runtime_client: str, **overrides):
    """GatewaySettings for a local gateway in front of ``hosting`` (a started HostingServer) with the ``runtime_client``
    ("boto3" or "http"): no bundled model endpoints, routes, origins, keys or rate limit unless ``overrides`` set them."""
    from modelport.gateway.settings import GatewaySettings

    options = dict(runtime_endpoint_url=hosting.url, mode="local", region="us-east-1", mnist_sklearn_endpoint="",
                   mnist_pytorch_endpoint="", sentiment_endpoint="", routes="", allowed_origins="", api_keys="",
                   rate_limit="", page_dir=None, runtime_client=runtime_client, hosting_token=hosting.token)
    return GatewaySettings(**{**options, **overrides})


def framework_only(app):
    """``app`` with its hot routes taken out (the direct lane and the plain-ASGI middleware): FastAPI's own
    routes answer POST /predict and /invoke."""
    assert isinstance(app.edge.app, HotRoutes)
    app.edge.app = app.framework  # Edge straight to FastAPI's routes
    app.direct = None
    return app


def asgi_only(app):
    """``app`` without its direct lane: the hot routes answer through ASGI, as in Lambda."""
    assert app.direct is not None
    app.direct = None
    return app
