"""The gateway's ASGI app, assembled: routes, middleware (``Edge`` → ``HotRoutes``), exception handlers.

``create_app()`` builds the parts from the settings (``parts.py``; a bad setting becomes a reported
configuration error — ``/health``, 503 on the routes it affects — never an exception at import), puts
them on the app's state, where the module-level route handlers read them, and puts the plain-ASGI
layers in front of FastAPI's stack. POST /predict and /invoke are served by ``HotRoutes`` with
``ModelCalls`` (on this machine's server through the direct lane, ``app.direct``, without ASGI); the
rest by FastAPI's routers (``status_routes``, ``model_routes``, ``chat/routes``), and what no route
claims by the page (``page.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from modelport import __version__
from modelport.gateway import model_routes, status_routes
from modelport.gateway.auth import ApiKeys
from modelport.gateway.backend import SageMakerBackend
from modelport.gateway.chat import routes as chat_routes
from modelport.gateway.chat.provider_choice import chat_lifespan
from modelport.gateway.cors import Cors
from modelport.gateway.edge import Edge
from modelport.gateway.error_handlers import EXCEPTION_HANDLERS
from modelport.gateway.hot_routes import HotRoutes
from modelport.gateway.logs import get_logger
from modelport.gateway.page import page_or_not_found
from modelport.gateway.parts import build_parts
from modelport.gateway.ratelimit import TokenBuckets
from modelport.gateway.settings import GatewaySettings, split_list
from modelport.gateway.transports import RuntimeTransport
from modelport.net.asgi_types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from modelport.net.asgi import DirectHook

DESCRIPTION = (
    "modelport's public API: the same paths locally and on AWS (Lambda behind API Gateway). "
    "Models are reached through the SageMaker Runtime API. Errors are JSON: "
    '`{"error": {"code", "message", "retryable"}, "requestId"}`.'
)
# every router's routes, added to the app's own router: FastAPI 0.165's include_router() would wrap each
# router in a routing layer of its own (measured: about 20 µs more per request on /health and /chat)
ROUTES = (*status_routes.router.routes, *model_routes.router.routes, *chat_routes.router.routes)


class GatewayApp(FastAPI):
    """FastAPI with the gateway's edge in front of it: ``Edge`` → ``HotRoutes`` → FastAPI's own stack.

    ``Edge`` and ``HotRoutes`` sit outside FastAPI's middleware stack (not ``add_middleware``), so the
    hot routes pay for none of the framework's layers; every other request goes on to ``framework``.
    """

    edge: ASGIApp | None = None  # set by create_app
    # the hot routes without ASGI, for modelport's HTTP server (``local_server.server_app``); set by create_app
    direct: "DirectHook | None" = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self.edge or self.framework)(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The plain FastAPI application (its routes, exception handlers and middleware)."""
        await super().__call__(scope, receive, send)


def create_app(settings: GatewaySettings | None = None, *, backend: SageMakerBackend | None = None,
               transport: RuntimeTransport | None = None) -> GatewayApp:
    """Build the gateway app from settings (default: read from the environment now); ``transport``: the Runtime
    API transport to use instead of the one the settings choose (``modelport up``'s in-process one)."""
    parts = build_parts(settings, backend, transport)
    settings = parts.settings
    app = GatewayApp(title="modelport gateway", version=__version__, description=DESCRIPTION,
                     exception_handlers=EXCEPTION_HANDLERS, lifespan=chat_lifespan(parts.chat))
    app.router.routes.extend(ROUTES)
    app.router.default = page_or_not_found(parts.page_dir)
    for name, value in vars(parts).items():  # settings, model_table, backend, chat, calls, page_dir, metrics, ...
        setattr(app.state, name, value)

    hot = HotRoutes(app.framework, calls=parts.calls)
    app.edge = Edge(
        hot,
        cors=Cors(split_list(settings.allowed_origins)),
        keys=ApiKeys(split_list(settings.api_keys)),
        buckets=TokenBuckets(parts.rate_limit) if parts.rate_limit else None,
        max_body_bytes=settings.max_body_bytes,
        logger=get_logger(),
        access_log=settings.access_log,
        metrics=parts.metrics,
        # in Lambda the function's time is billed until the handler returns: never spin there
        busy_poll_seconds=settings.busy_poll_ms / 1000 if settings.run_mode == "local" else 0.0,
    )
    app.direct = app.edge.direct_lane(hot)
    return app
