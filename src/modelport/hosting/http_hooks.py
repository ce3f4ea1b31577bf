"""How hosting's APIs sit on modelport's HTTP server (``modelport.net``): what is decided from a request's
head before its body is read, and the error answer, in the caller's protocol, for what the server
refuses itself (a body too large, too slow or malformed, a head too large).

From the head: the service the request is for (:func:`services.service_of`, kept in ``request.state``
for :class:`~modelport.hosting.server.HostingApp`), and so its body limit and whether the body is
streamed: SageMaker's 6 MB payload for the SageMaker APIs (and STS, IAM, Logs), read whole; for S3, an
upload (PutObject, UploadPart) is handed over before its body is read and written to disk as it arrives
(up to S3's 5 GiB), any other S3 request is read whole (:mod:`.s3.bodies`). A body over its limit is
refused from its ``Content-Length`` before any of it is read.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import orjson

from modelport.hosting import query_protocol, s3, services
from modelport.hosting.aws_apis import IAM_NAMESPACE, STS_NAMESPACE
from modelport.hosting.query_protocol import QueryError
from modelport.hosting.runtime_api import MAX_BODY
from modelport.hosting.s3.errors import S3Error, error_response
from modelport.net.messages import Request, Response

if TYPE_CHECKING:
    from modelport.hosting.server import HostingApp

# the server's own refusals in each protocol's terms (status → code); other statuses keep the server's code
_SAGEMAKER_CODES = {500: "InternalFailure"}
_CONTROL_CODES = {413: "SerializationException", 500: "InternalFailure"}  # JSON 1.1 (X-Amz-Target)
_RUNTIME_CODES = {413: "ValidationError", 500: "InternalFailure"}  # REST-JSON (/endpoints/...)
_S3_CODES = {408: "RequestTimeout", 500: "InternalError"}  # (413: s3.too_large)
_NAMESPACES = {"sts": STS_NAMESPACE, "iam": IAM_NAMESPACE}


class HostingHttpApp:
    """Hosting's dispatcher (:class:`HostingApp`) as an application of :class:`modelport.net.server.HttpServer`."""

    def __init__(self, app: "HostingApp") -> None:
        self.handle = app.__call__  # an ``async def``: the server awaits it
        self.s3 = app.s3

    def body_limit(self, request: Request) -> int:
        """The largest body this request may carry; notes its service in ``request.state`` for the dispatcher."""
        service = request.state = services.service_of(request.headers, request.query)
        if service == services.S3:
            return s3.body_limit(request.headers, self.s3.is_upload(request))
        return MAX_BODY

    def stream_body(self, request: Request) -> bool:
        """Whether the body is handed over as it arrives (S3 uploads) instead of read whole first."""
        return request.state == services.S3 and self.s3.is_upload(request)

    def error(self, status: int, code: str, message: str, request: Request | None = None) -> Response:
        """The refusal in the shape the caller's client parses: S3's XML, the query protocol's XML (STS,
        IAM), else SageMaker's JSON (``__type`` + ``message`` and ``x-amzn-ErrorType``, which boto3 reads
        for the control and runtime APIs alike, and what CloudWatch Logs' JSON clients read)."""
        service = request.state if request is not None else None
        if service == services.S3:
            refusal = s3.too_large(self.s3.is_upload(request)) if status == 413 else \
                S3Error(_S3_CODES.get(status, code), message)
            return error_response(refusal, request.path, request.method == "HEAD")
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
