"""How hosting's APIs sit on modelport's HTTP server (``modelport.net``): each request's body limit and
the SageMaker-shaped error for what the server refuses itself (oversized, malformed or slow requests).

``body_limit`` is asked with each request's head before any of the body is read, so an oversized body
is refused from its ``Content-Length`` instead of being read: S3 (objects and parts) takes larger bodies
than the SageMaker APIs' 6 MB.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

from modelport.hosting import services
from modelport.hosting.runtime_api import MAX_BODY
from modelport.hosting.s3 import MAX_S3_BODY
from modelport.net.messages import Request, Response

# botocore reads a REST-JSON error's code from this header and a JSON 1.1 error's from "__type": both are set
_CODES = {413: "ValidationError"}  # the Runtime API's code for a body over 6 MB


class HostingHttpApp:
    """Hosting's request dispatcher as an application of :class:`modelport.net.server.HttpServer`."""

    def __init__(self, dispatch: Callable[[Request], Awaitable[Response]]) -> None:
        self.handle = dispatch.__call__  # an ``async def``: the server awaits it

    def body_limit(self, request: Request) -> int:
        """The largest body this request may carry: S3's objects and parts, else SageMaker's 6 MB payload."""
        return MAX_S3_BODY if services.service_of(request.headers, request.query) == services.S3 else MAX_BODY

    def error(self, status: int, code: str, message: str) -> Response:
        """``{"__type", "message"}`` with ``x-amzn-ErrorType``: boto3 raises it for the control and runtime APIs alike."""
        code = _CODES.get(status, code)
        return Response(status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)],
                        orjson.dumps({"__type": code, "message": message}))
