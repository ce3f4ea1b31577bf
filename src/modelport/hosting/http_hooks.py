"""How hosting's APIs sit on modelport's HTTP server (``modelport.net``): what is decided from a request's
head before its body is read, and the error answer, in the caller's protocol, for what the server
refuses itself (a body too large, too slow or malformed, a head too large).

From the head: the service the request is for (:func:`services.service_of`, kept in ``request.state``
for :class:`~modelport.hosting.server.HostingApp`) and so its body limit: SageMaker's 6 MB payload for
the SageMaker APIs (and STS, IAM, Logs), more for S3 (:mod:`.s3`). A body over the limit is refused from
its ``Content-Length`` before any of it is read.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import orjson

from modelport.hosting import query_protocol, services
from modelport.hosting.aws_apis import IAM_NAMESPACE, STS_NAMESPACE
from modelport.hosting.query_protocol import QueryError
from modelport.hosting.runtime_api import MAX_BODY
from modelport.hosting.s3 import MAX_S3_BODY
from modelport.hosting.s3.errors import S3Error, error_response
from modelport.net.messages import Request, Response

if TYPE_CHECKING:
    from modelport.hosting.server import HostingApp

# the server's own refusals in each protocol's terms (status → code); other statuses keep the server's code
_SAGEMAKER_CODES = {500: "InternalFailure"}
_CONTROL_CODES = {413: "SerializationException", 500: "InternalFailure"}  # JSON 1.1 (X-Amz-Target)
_RUNTIME_CODES = {413: "ValidationError", 500: "InternalFailure"}  # REST-JSON (/endpoints/...)
_S3_CODES = {413: "EntityTooLarge", 408: "RequestTimeout", 500: "InternalError"}
_NAMESPACES = {"sts": STS_NAMESPACE, "iam": IAM_NAMESPACE}


class HostingHttpApp:
    """Hosting's dispatcher (:class:`HostingApp`) as an application of :class:`modelport.net.server.HttpServer`."""

    def __init__(self, app: "HostingApp") -> None:
        self.handle = app.__call__  # an ``async def``: the server awaits it

    def body_limit(self, request: Request) -> int:
        """The largest body this request may carry; notes its service in ``request.state`` for the dispatcher."""
        service = request.state = services.service_of(request.headers, request.query)
        return MAX_S3_BODY if service == services.S3 else MAX_BODY

    def error(self, status: int, code: str, message: str, request: Request | None = None) -> Response:
        """The refusal in the shape the caller's client parses: S3's XML, the query protocol's XML (STS,
        IAM), else SageMaker's JSON (``__type`` + ``message`` and ``x-amzn-ErrorType``, which boto3 reads
        for the control and runtime APIs alike, and what CloudWatch Logs' JSON clients read)."""
        service = request.state if request is not None else None
        if service == services.S3:
            fields = {}
            if status == 413:
                message = (f"Your proposed upload exceeds the maximum allowed size of {MAX_S3_BODY} bytes for one "
                           f"request; upload larger objects in parts (multipart upload).")
                fields["MaxSizeAllowed"] = str(MAX_S3_BODY)
            return error_response(S3Error(_S3_CODES.get(status, code), message, **fields), request.path,
                                  request.method == "HEAD")
        if service in _NAMESPACES:
            return query_protocol.error(QueryError(_SAGEMAKER_CODES.get(status, code), message, status),
                                        _NAMESPACES[service])
        if request is not None and request.path.startswith("/endpoints/"):
            code = _RUNTIME_CODES.get(status, code)
        elif request is not None and "x-amz-target" in request.headers:
            code = _CONTROL_CODES.get(status, code)
        else:
            code = _SAGEMAKER_CODES.get(status, code)
        return Response(status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
                                 ("x-amzn-RequestId", str(uuid.uuid4()))],
                        orjson.dumps({"__type": code, "message": message}))
