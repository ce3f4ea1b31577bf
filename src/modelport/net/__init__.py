"""Networking shared by the servers (runtime, hosting, gateway): no part-specific logic.

- ``server``: the one HTTP/1.1 server (asyncio + httptools) under runtime workers, hosting and the
  local gateway, with its limits in ``limits`` (``MODELPORT_HTTP_*``); ``connection`` (parsing, limits,
  timeouts, closing), ``handler`` (``handle(request) -> Response`` applications), ``asgi`` (ASGI
  applications; ``body_stream`` and ``lifespan`` serve them), ``acceptor`` (accepting), ``wire``
  (bytes) and ``messages`` (Request, Response).
- ``upstream``: pooled keep-alive HTTP/1.1 client connections (hosting → runtime, gateway → hosting).
- ``busypoll``: keep an event loop polling briefly after each answer instead of sleeping.
- ``asgi_types``: the ASGI primitives as types (``Scope``, ``Receive``, ``Send``, ``ASGIApp``), for every hand-written ASGI layer.
"""
