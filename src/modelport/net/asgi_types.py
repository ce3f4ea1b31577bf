"""The ASGI 3 primitives as types, defined once for every hand-written ASGI layer.

As in Starlette's ``starlette.types``: a ``Scope`` and a ``Message`` are mappings; ``Receive`` and ``Send``
are the two callables an application is given; ``ASGIApp`` is the application itself. Used by net's ASGI
server (``asgi.py``, ``lifespan.py``) and the gateway's plain-ASGI layers (``edge.py``, ``hot_routes.py``,
``page.py``, ``errors.send_error``, the app's ``__call__``). Importing it costs nothing (no httptools), so
the gateway can use it in AWS Lambda too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
