"""S3 access through boto3, honouring ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelport.settings import S3EndpointSetting
from modelport.store.uri import ParsedUri, StoreError


def client() -> Any:
    """A boto3 S3 client; the endpoint comes from the environment when one is set."""
    try:
        import boto3
    except ImportError as exc:  # boto3 is a dependency, but say clearly what is missing
        raise StoreError("s3:// URIs need boto3; install it with `pip install boto3`") from exc
    return boto3.client("s3", endpoint_url=S3EndpointSetting().s3_endpoint)


def _describe(parsed: ParsedUri, exc: Exception) -> str:
    return f"s3://{parsed.bucket}/{parsed.key}: {exc}"


def download(parsed: ParsedUri, dest: Path) -> None:
    """Download one object to ``dest``."""
    try:
        client().download_file(parsed.bucket, parsed.key, str(dest))
    except Exception as exc:  # botocore raises many types; all mean "could not read"
        raise StoreError(f"cannot download {_describe(parsed, exc)}") from exc


def upload(source: Path, parsed: ParsedUri) -> None:
    """Upload a local file to one object."""
    try:
        client().upload_file(str(source), parsed.bucket, parsed.key)
    except Exception as exc:
        raise StoreError(f"cannot upload {source} to {_describe(parsed, exc)}") from exc


def read(parsed: ParsedUri) -> bytes:
    """An object's bytes."""
    try:
        return client().get_object(Bucket=parsed.bucket, Key=parsed.key)["Body"].read()
    except Exception as exc:
        raise StoreError(f"cannot read {_describe(parsed, exc)}") from exc


def write(parsed: ParsedUri, data: bytes) -> None:
    """Write bytes to one object."""
    try:
        client().put_object(Bucket=parsed.bucket, Key=parsed.key, Body=data)
    except Exception as exc:
        raise StoreError(f"cannot write {_describe(parsed, exc)}") from exc


def exists(parsed: ParsedUri) -> bool:
    """Whether the object exists (False on 404, raises on other errors)."""
    from botocore.exceptions import ClientError

    try:
        client().head_object(Bucket=parsed.bucket, Key=parsed.key)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise StoreError(f"cannot check {_describe(parsed, exc)}") from exc
