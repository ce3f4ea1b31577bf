"""S3's error answers: an XML ``<Error>`` document with S3's code, message and HTTP status.

botocore reads ``Code`` and ``Message`` from the body (and only the status for HEAD requests, whose
answers have no body). Errors from the object store carry S3's codes already.
"""

from __future__ import annotations

import uuid

from modelport.hosting.s3.xmldoc import document
from modelport.net.messages import Response
from modelport.objectstore import ObjectStoreError

STATUS = {
    "AccessDenied": 403, "BadDigest": 400, "BucketAlreadyExists": 409, "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409, "EntityTooLarge": 400, "EntityTooSmall": 400, "IncompleteBody": 400,
    "InvalidArgument": 400, "InvalidBucketName": 400, "InvalidDigest": 400, "InvalidPart": 400,
    "InvalidPartOrder": 400, "InvalidRange": 416, "InvalidRequest": 400, "KeyTooLongError": 400,
    "MalformedXML": 400, "MaxMessageLengthExceeded": 400, "MethodNotAllowed": 405, "MissingContentLength": 411,
    "NoSuchBucket": 404, "NoSuchKey": 404, "NoSuchUpload": 404, "NotImplemented": 501, "PreconditionFailed": 412,
    "RequestTimeout": 400, "XAmzContentSHA256Mismatch": 400, "InternalError": 500,
}


class S3Error(ObjectStoreError):
    """An S3 protocol error raised by the API layer (same shape as the store's errors)."""


def request_id_headers(request_id: str) -> list[tuple[str, str]]:
    """``x-amz-request-id`` and ``x-amz-id-2``, as S3 puts on every answer."""
    return [("x-amz-request-id", request_id), ("x-amz-id-2", request_id)]


def error_response(error: ObjectStoreError, resource: str, head: bool = False) -> Response:
    """The answer for ``error`` about ``resource`` (the request path); no body for HEAD."""
    status = STATUS.get(error.code, 400)
    request_id = uuid.uuid4().hex[:16].upper()
    headers = request_id_headers(request_id)
    if head:
        return Response(status, headers, b"")
    body = document("Error", {"Code": error.code, "Message": error.message, **error.fields,
                              "Resource": resource, "RequestId": request_id, "HostId": request_id},
                    namespace=False)
    return Response(status, [("Content-Type", "application/xml"), *headers], body)
