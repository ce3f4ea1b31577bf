"""hosting's S3 API (REST-XML) over the local object store: routes a request to its operation and turns
every refusal into S3's XML error.

Operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, ListObjects(V2),
PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject, and multipart upload
(create, upload part, complete, abort). Anything else is S3's ``NotImplemented`` naming the request.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from modelport.hosting.s3 import buckets, multipart, objects
from modelport.hosting.s3.call import S3Call
from modelport.hosting.s3.errors import S3Error, error_response
from modelport.net.messages import Request, Response
from modelport.objectstore import ObjectStore, ObjectStoreError

log = logging.getLogger(__name__)
Operation = Callable[[S3Call], Awaitable[Response]]
# bucket subresources S3 has and modelport does not (answered NotImplemented, never as a listing)
_BUCKET_SUBRESOURCES = ("acl", "policy", "cors", "versioning", "tagging", "lifecycle", "encryption", "website",
                        "logging", "notification", "replication", "uploads", "versions", "ownershipControls",
                        "publicAccessBlock", "object-lock", "accelerate", "requestPayment", "analytics",
                        "inventory", "metrics", "intelligent-tiering", "policyStatus")
_OBJECT_SUBRESOURCES = ("acl", "tagging", "retention", "legal-hold", "torrent", "attributes", "restore",
                        "select", "partNumber")


def _route(method: str, call: S3Call) -> Operation | None:
    """The operation for ``method`` on ``call``'s target, or None."""
    query, bucket, key = call.query, call.target.bucket, call.target.key
    if not bucket:
        return buckets.list_buckets if method == "GET" else None
    if not key:
        if method == "POST" and "delete" in query:
            return objects.delete_objects
        if method == "GET" and "location" in query:
            return buckets.get_bucket_location
        if any(name in query for name in _BUCKET_SUBRESOURCES):
            return None
        return {"GET": buckets.list_objects, "PUT": buckets.create_bucket, "HEAD": buckets.head_bucket,
                "DELETE": buckets.delete_bucket}.get(method)
    if "uploadId" in query:
        if method == "PUT" and "partNumber" in query:
            return multipart.upload_part
        return {"POST": multipart.complete_upload, "DELETE": multipart.abort_upload}.get(method)
    if method == "POST" and "uploads" in query:
        return multipart.create_upload
    if any(name in query for name in _OBJECT_SUBRESOURCES):
        return None
    if method == "PUT":
        return objects.copy_object if "x-amz-copy-source" in call.headers else objects.put_object
    return {"GET": objects.get_object, "HEAD": objects.head_object, "DELETE": objects.delete_object}.get(method)


_UPLOADS = (objects.put_object, multipart.upload_part)


class S3Api:
    """Answers S3 requests from ``store``; new buckets go to ``region`` unless they name one."""

    def __init__(self, store: ObjectStore, region: str) -> None:
        self.store = store
        self.region = region

    def is_upload(self, request: Request) -> bool:
        """Whether ``request`` (its head) is PutObject or UploadPart: its body is streamed to disk as it arrives."""
        call = S3Call.parse(request, self.store, self.region, "")
        return _route(request.method, call) in _UPLOADS

    async def handle(self, request: Request) -> Response:
        """Answer one S3 request."""
        head = request.method == "HEAD"
        call = S3Call.parse(request, self.store, self.region, uuid.uuid4().hex[:16].upper())
        try:
            operation = _route(request.method, call)
            if operation is None:
                raise S3Error("NotImplemented", f"modelport's S3 does not implement {request.method} {request.path}"
                              f"{'?' + request.query if request.query else ''}; see src/modelport/hosting/README.md "
                              f"for the operations it has.", Method=request.method)
            return await operation(call)
        except ObjectStoreError as exc:
            return error_response(exc, request.path, head)
        except OSError as exc:  # disk full, permissions: S3's InternalError, with the reason in the log
            log.exception("S3 %s %s failed", request.method, request.path)
            return error_response(S3Error("InternalError", f"We encountered an internal error: {exc.strerror or exc}."),
                                  request.path, head)
