"""S3's bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
ListObjects and ListObjectsV2."""

from __future__ import annotations

import base64
from urllib.parse import quote

from modelport.hosting.s3.bodies import etag
from modelport.hosting.s3.call import S3Call
from modelport.hosting.s3.errors import S3Error, request_id_headers
from modelport.hosting.s3.xmldoc import XmlBodyError, child_text, document, iso8601, parse
from modelport.net.messages import Response
from modelport.objectstore import ObjectInfo

OWNER = {"ID": "6d6f64656c706f72742d6c6f63616c2d6163636f756e74", "DisplayName": "modelport"}
MAX_KEYS = 1000
_XML = ("Content-Type", "application/xml")


def xml_response(call: S3Call, root: str, content: dict | str, status: int = 200) -> Response:
    """A successful XML answer."""
    return Response(status, [_XML, *request_id_headers(call.request_id)], document(root, content))


def empty_response(call: S3Call, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    """A successful answer without a body."""
    return Response(status, [*(headers or []), *request_id_headers(call.request_id)], b"")


async def list_buckets(call: S3Call) -> Response:
    """GET / — every bucket."""
    buckets = await call.run(call.store.buckets)
    return xml_response(call, "ListAllMyBucketsResult", {
        "Owner": OWNER,
        "Buckets": {"Bucket": [{"Name": b.name, "CreationDate": iso8601(b.created), "BucketRegion": b.region}
                               for b in buckets]},
    })


def _location_constraint(call: S3Call) -> str:
    body = call.request.body
    if not body.strip():
        return call.region
    try:
        root = parse(body)
    except XmlBodyError as exc:
        raise S3Error("MalformedXML", f"The XML you provided was not well-formed: {exc}") from None
    return child_text(root, "LocationConstraint") or "us-east-1"


async def create_bucket(call: S3Call) -> Response:
    """PUT /bucket — a new bucket (in the region of its LocationConstraint, else hosting's)."""
    await call.run(call.store.create_bucket, call.target.bucket, _location_constraint(call))
    return empty_response(call, headers=[("Location", f"/{call.target.bucket}")])


async def head_bucket(call: S3Call) -> Response:
    """HEAD /bucket — 200 with its region, or 404."""
    info = await call.run(call.store.bucket, call.target.bucket)
    return empty_response(call, headers=[("x-amz-bucket-region", info.region)])


async def delete_bucket(call: S3Call) -> Response:
    """DELETE /bucket — only an empty bucket."""
    await call.run(call.store.delete_bucket, call.target.bucket)
    return empty_response(call, 204)


async def get_bucket_location(call: S3Call) -> Response:
    """GET /bucket?location — the region (empty for us-east-1, as S3)."""
    info = await call.run(call.store.bucket, call.target.bucket)
    region = "" if info.region == "us-east-1" else info.region
    return xml_response(call, "LocationConstraint", region)


def _max_keys(call: S3Call) -> int:
    text = call.query.get("max-keys", str(MAX_KEYS))
    if not text.isdigit():
        raise S3Error("InvalidArgument", "Provided max-keys not an integer or within integer range",
                      ArgumentName="max-keys", ArgumentValue=text)
    return min(int(text), MAX_KEYS)


def _encoder(call: S3Call):
    encoding = call.query.get("encoding-type")
    if encoding not in (None, "url"):
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                      ArgumentName="encoding-type", ArgumentValue=encoding)
    return (lambda text: quote(text, safe="/")) if encoding == "url" else (lambda text: text)


def _entry(info: ObjectInfo, encode, owner: bool) -> dict:
    entry = {"Key": encode(info.key), "LastModified": iso8601(info.modified), "ETag": etag(info.etag),
             "Size": info.size, "StorageClass": "STANDARD"}
    if owner:
        entry["Owner"] = OWNER
    return entry


async def list_objects(call: S3Call) -> Response:
    """GET /bucket (ListObjects) or GET /bucket?list-type=2 (ListObjectsV2): prefix, delimiter, pages."""
    version2 = call.query.get("list-type") == "2"
    prefix, delimiter = call.query.get("prefix", ""), call.query.get("delimiter", "")
    max_keys, encode = _max_keys(call), _encoder(call)
    if version2:
        token = call.query.get("continuation-token")
        after = _decode_token(token) if token is not None else call.query.get("start-after", "")
    else:
        after = call.query.get("marker", "")
    page = await call.run(call.store.list_objects, call.target.bucket, prefix, delimiter, after, max_keys)
    content: dict = {"Name": call.target.bucket, "Prefix": encode(prefix)}
    if delimiter:
        content["Delimiter"] = encode(delimiter)
    content["MaxKeys"] = max_keys
    if "encoding-type" in call.query:
        content["EncodingType"] = "url"
    content["IsTruncated"] = page.truncated
    if version2:
        content["KeyCount"] = len(page.objects) + len(page.prefixes)
        if token is not None:
            content["ContinuationToken"] = token
        if page.truncated:
            content["NextContinuationToken"] = _encode_token(page.last)
        if "start-after" in call.query:
            content["StartAfter"] = encode(call.query["start-after"])
    else:
        content["Marker"] = encode(after)
        if page.truncated and delimiter:
            content["NextMarker"] = encode(page.last)
    owner = call.query.get("fetch-owner") == "true" or not version2
    content["Contents"] = [_entry(info, encode, owner) for info in page.objects]
    content["CommonPrefixes"] = [{"Prefix": encode(p)} for p in page.prefixes]
    return xml_response(call, "ListBucketResult", content)


def _encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode("utf-8")).decode("ascii")


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      ArgumentName="continuation-token") from None
