"""S3's object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject."""

from __future__ import annotations

from urllib.parse import unquote

from modelport.hosting.s3 import bodies
from modelport.hosting.s3.buckets import empty_response, xml_response
from modelport.hosting.s3.call import S3Call
from modelport.hosting.s3.errors import S3Error
from modelport.hosting.s3.xmldoc import XmlBodyError, child_text, iso8601, parse
from modelport.net.messages import Response
from modelport.objectstore import ObjectStoreError

MAX_DELETE_KEYS = 1000


async def put_object(call: S3Call) -> Response:
    """PUT /bucket/key — store the body (``If-None-Match: *`` refuses to overwrite)."""
    if_none_match = call.headers.get("if-none-match", "").strip()
    if if_none_match and if_none_match != "*":
        raise S3Error("NotImplemented", "If-None-Match on PutObject supports only '*'.", Header="If-None-Match")
    await call.run(call.store.bucket, call.target.bucket)  # before taking the body: NoSuchBucket first
    writer = await bodies.receive(call)
    headers, metadata = bodies.object_headers_from_request(call.headers)
    try:
        info = await call.run(call.store.put_object, call.target.bucket, call.target.key, writer, headers,
                              metadata, bool(if_none_match))
    except BaseException:
        writer.discard()
        raise
    return empty_response(call, headers=[("ETag", bodies.etag(info.etag))])


async def get_object(call: S3Call) -> Response:
    """GET /bucket/key (``Range``, conditional headers)."""
    return await bodies.send(call, head=False)


async def head_object(call: S3Call) -> Response:
    """HEAD /bucket/key."""
    return await bodies.send(call, head=True)


async def delete_object(call: S3Call) -> Response:
    """DELETE /bucket/key — 204 whether or not the key existed."""
    await call.run(call.store.delete_object, call.target.bucket, call.target.key)
    return empty_response(call, 204)


async def delete_objects(call: S3Call) -> Response:
    """POST /bucket?delete — up to 1,000 keys; the body must carry Content-MD5 or an x-amz-checksum."""
    if "content-md5" not in call.headers and not any(h.startswith("x-amz-checksum-") for h in call.headers):
        raise S3Error("InvalidRequest", "Missing required header for this request: Content-MD5")
    writer = await bodies.receive(call)  # checks the digests
    writer.discard()
    try:
        root = parse(call.request.body)
    except XmlBodyError as exc:
        raise S3Error("MalformedXML", f"The XML you provided was not well-formed: {exc}") from None
    objects = root.findall("Object")
    if not objects or len(objects) > MAX_DELETE_KEYS:
        raise S3Error("MalformedXML", f"The XML you provided was not well-formed or did not validate against our "
                      f"published schema: it must list 1 to {MAX_DELETE_KEYS} objects.")
    quiet = (child_text(root, "Quiet") or "").strip().lower() == "true"
    deleted, errors = [], []
    await call.run(call.store.bucket, call.target.bucket)
    for element in objects:
        key = child_text(element, "Key") or ""
        try:
            await call.run(call.store.delete_object, call.target.bucket, key)
            deleted.append({"Key": key})
        except ObjectStoreError as exc:
            errors.append({"Key": key, "Code": exc.code, "Message": exc.message})
    return xml_response(call, "DeleteResult", {"Deleted": [] if quiet else deleted, "Error": errors})


def copy_source(value: str) -> tuple[str, str]:
    """``/bucket/key`` or ``bucket/key`` (URL-encoded, optional ``?versionId``) → (bucket, key)."""
    path = unquote(value.split("?", 1)[0]).lstrip("/")
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: "
                      "sourcebucket/sourcekey", ArgumentName="x-amz-copy-source", ArgumentValue=value)
    return bucket, key


async def copy_object(call: S3Call) -> Response:
    """PUT /bucket/key with ``x-amz-copy-source`` — copy (metadata kept, or replaced with REPLACE)."""
    source = copy_source(call.headers["x-amz-copy-source"])
    directive = call.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.", ArgumentName="x-amz-metadata-directive",
                      ArgumentValue=directive)
    if source == (call.target.bucket, call.target.key) and directive == "COPY":
        raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy an object to "
                      "itself without changing the object's metadata, storage class, website redirect location or "
                      "encryption attributes.")
    headers = metadata = None
    if directive == "REPLACE":
        headers, metadata = bodies.object_headers_from_request(call.headers)
    info = await call.run(call.store.copy_object, source, (call.target.bucket, call.target.key), headers, metadata)
    return xml_response(call, "CopyObjectResult", {"LastModified": iso8601(info.modified),
                                                   "ETag": bodies.etag(info.etag)})
