"""How hosting's APIs sit on modelport's HTTP server (``modelport.net``): each request's body limit and
the SageMaker-shaped error for what the server refuses itself (oversized, malformed or slow requests).

An API that needs larger bodies (or to stream them to disk) says so here: ``body_limit`` is asked with
each request's head before any of the body is read; ``stream_body`` (see ``modelport.net.handler``)
can hand a request over before its body is read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

from modelport.hosting.runtime_api import MAX_BODY
from modelport.net.messages import Request, Response

# botocore reads a REST-JSON error's code from this header and a JSON 1.1 error's from "__type": both are set
_CODES = {413: "ValidationError"}  # the Runtime API's code for a body over 6 MB


class HostingHttpApp:
    """Hosting's request dispatcher as an application of :class:`modelport.net.server.HttpServer`."""

    def __init__(self, dispatch: Callable[[Request], Awaitable[Response]]) -> None:
        self.handle = dispatch.__call__  # an ``async def``: the server awaits it

    def body_limit(self, request: Request) -> int:
        """The largest body this request may carry (SageMaker's 6 MB for every API today)."""
        return MAX_BODY

    def error(self, status: int, code: str, message: str) -> Response:
        """``{"__type", "message"}`` with ``x-amzn-ErrorType``: boto3 raises it for the control and runtime APIs alike."""
        code = _CODES.get(status, code)
        return Response(status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)],
                        orjson.dumps({"__type": code, "message": message}))
