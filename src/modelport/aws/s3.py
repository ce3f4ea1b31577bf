"""The archives bucket (encrypted, private, tagged) and content-addressed archive uploads."""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import ClientError

from modelport.aws.calls import Calls
from modelport.aws.errors import is_missing
from modelport.aws.names import Names, check_bucket_name

PRIVATE = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
           "RestrictPublicBuckets": True}


def bucket_exists(calls: Calls, bucket: str) -> bool:
    """Whether ``bucket`` exists (and we may see it)."""
    try:
        calls.client("s3").head_bucket(Bucket=bucket)
        return True
    except ClientError as exc:
        if is_missing(exc):
            return False
        raise


def create_bucket(calls: Calls, bucket: str, names: Names) -> None:
    """Create ``bucket`` in the stack's region, tagged with the stack."""
    s3 = calls.client("s3")
    params = {"Bucket": check_bucket_name(bucket)}
    if names.region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": names.region}
    s3.create_bucket(**params)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": names.tag_list()})


def ensure_artifacts_bucket(calls: Calls, names: Names) -> str:
    """The archives bucket: created if absent, with default encryption and all public access blocked."""
    bucket = names.artifacts_bucket
    if bucket_exists(calls, bucket):
        return "unchanged"
    s3 = calls.client("s3")
    create_bucket(calls, bucket, names)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PRIVATE)
    return "created"


def upload_archive(calls: Calls, names: Names, model: str, archive: Path, digest: str) -> tuple[str, str]:
    """Upload an archive under its content digest unless it is there already; returns (s3 uri, action)."""
    key = names.archive_key(model, digest)
    uri = f"s3://{names.artifacts_bucket}/{key}"
    s3 = calls.client("s3")
    try:
        head = s3.head_object(Bucket=names.artifacts_bucket, Key=key)
        if head.get("ContentLength") == archive.stat().st_size:
            return uri, "unchanged"
    except ClientError as exc:
        if not is_missing(exc):
            raise
    s3.upload_file(Filename=str(archive), Bucket=names.artifacts_bucket, Key=key, ExtraArgs={
        "ServerSideEncryption": "AES256", "ContentType": "application/gzip",
        "Tagging": f"modelport%3Astack={names.stack}"})
    return uri, "uploaded"


def delete_bucket(calls: Calls, bucket: str) -> bool:
    """Empty (all versions) and delete ``bucket``; False when it did not exist."""
    if not bucket_exists(calls, bucket):
        return False
    s3 = calls.client("s3")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)
    return True
