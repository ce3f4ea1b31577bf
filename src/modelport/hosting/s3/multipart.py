"""S3's multipart upload: CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload."""

from __future__ import annotations

from modelport.hosting.s3 import bodies
from modelport.hosting.s3.buckets import empty_response, xml_response
from modelport.hosting.s3.call import S3Call
from modelport.hosting.s3.errors import S3Error
from modelport.hosting.s3.xmldoc import XmlBodyError, child_text, parse
from modelport.net.messages import Response


async def create_upload(call: S3Call) -> Response:
    """POST /bucket/key?uploads — a new upload id."""
    headers, metadata = bodies.object_headers_from_request(call.headers)
    upload = await call.run(call.store.create_upload, call.target.bucket, call.target.key, headers, metadata)
    return xml_response(call, "InitiateMultipartUploadResult",
                        {"Bucket": call.target.bucket, "Key": call.target.key, "UploadId": upload.upload_id})


def _part_number(call: S3Call) -> int:
    text = call.query.get("partNumber", "")
    if not text.isdigit():
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                      ArgumentName="partNumber", ArgumentValue=text)
    return int(text)


async def upload_part(call: S3Call) -> Response:
    """PUT /bucket/key?partNumber=N&uploadId=U — one part; its ETag is the part's MD5."""
    if "x-amz-copy-source" in call.headers:
        raise S3Error("NotImplemented", "modelport's S3 does not implement UploadPartCopy; copy objects with "
                      "CopyObject (up to the single-request size).", Header="x-amz-copy-source")
    number = _part_number(call)
    writer = await bodies.receive(call)
    try:
        part = await call.run(call.store.upload_part, call.target.bucket, call.target.key,
                              call.query["uploadId"], number, writer)
    except BaseException:
        writer.discard()
        raise
    return empty_response(call, headers=[("ETag", bodies.etag(part.etag))])


def _chosen_parts(body: bytes) -> list[tuple[int, str]]:
    try:
        root = parse(body)
    except XmlBodyError as exc:
        raise S3Error("MalformedXML", f"The XML you provided was not well-formed: {exc}") from None
    chosen = []
    for part in root.findall("Part"):
        number, etag = child_text(part, "PartNumber"), child_text(part, "ETag")
        if number is None or not number.strip().isdigit() or etag is None:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                          "our published schema: each Part needs a PartNumber and an ETag.")
        chosen.append((int(number), etag.strip().strip('"')))
    return chosen


async def complete_upload(call: S3Call) -> Response:
    """POST /bucket/key?uploadId=U — assemble the listed parts into the object."""
    chosen = _chosen_parts(call.request.body)
    info = await call.run(call.store.complete_upload, call.target.bucket, call.target.key,
                          call.query["uploadId"], chosen)
    location = f"/{call.target.bucket}/{call.target.key}"
    return xml_response(call, "CompleteMultipartUploadResult", {
        "Location": location, "Bucket": call.target.bucket, "Key": call.target.key, "ETag": bodies.etag(info.etag)})


async def abort_upload(call: S3Call) -> Response:
    """DELETE /bucket/key?uploadId=U — drop the upload and its parts."""
    await call.run(call.store.abort_upload, call.target.bucket, call.target.key, call.query["uploadId"])
    return empty_response(call, 204)
