"""Capture files read back: from ``s3://`` (hosting's S3 or a real SageMaker capture bucket, through boto3), a
``file://`` URI, a folder or one ``.jsonl`` file. Files are read in key order, a line at a time; each record is
returned with the variant folder it was found in (``…/{EndpointName}/{VariantName}/yyyy/mm/dd/hh/<file>.jsonl``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import orjson

from modelport import store
from modelport.store import s3 as store_s3

SUFFIX = ".jsonl"
_DATE_PARTS = 4  # yyyy/mm/dd/hh between the variant folder and the file


class CaptureReadError(Exception):
    """Capture files could not be listed, read or parsed; the message names the file (and line)."""


@dataclass(frozen=True)
class Captured:
    """One record and where it came from."""

    endpoint: str
    variant: str
    record: dict[str, Any]


def _names(key: str) -> tuple[str, str]:
    """(endpoint, variant) of a capture file's key or path in SageMaker's layout ("" when it is not in it)."""
    parts = PurePosixPath(key).parts
    if len(parts) >= _DATE_PARTS + 3:
        return parts[-_DATE_PARTS - 3], parts[-_DATE_PARTS - 2]
    return "", ""


def _parse(lines: Iterator[bytes], where: str, endpoint: str, variant: str) -> Iterator[Captured]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise CaptureReadError(f"{where} line {number} is not a capture record (not JSON: {exc}).") from None
        if not isinstance(record, dict) or not isinstance(record.get("captureData"), dict):
            raise CaptureReadError(f"{where} line {number} is not a capture record (no captureData object).")
        yield Captured(endpoint, variant, record)


def read(uri: str, s3: Any = None) -> Iterator[Captured]:
    """Every record under ``uri`` (``s3`` is the boto3 client for ``s3://``; default: :func:`modelport.store` 's)."""
    try:
        parsed = store.parse_uri(uri)
    except store.StoreError as exc:
        raise CaptureReadError(str(exc)) from None
    if parsed.scheme == "s3":
        yield from _read_s3(parsed, s3 or store_s3.client())
        return
    path = parsed.path
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob(f"*{SUFFIX}") if p.is_file())
    else:
        raise CaptureReadError(f"{uri}: no such file or folder.")
    for file in files:
        endpoint, variant = _names(file.as_posix())
        try:
            with file.open("rb") as lines:
                yield from _parse(lines, str(file), endpoint, variant)
        except OSError as exc:
            raise CaptureReadError(f"cannot read {file}: {exc}") from None


def _read_s3(parsed: store.ParsedUri, s3: Any) -> Iterator[Captured]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        keys = sorted(item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=parsed.bucket, Prefix=parsed.key) for item in page.get("Contents", [])
            if item["Key"].endswith(SUFFIX))
        for key in keys:
            endpoint, variant = _names(key)
            body = s3.get_object(Bucket=parsed.bucket, Key=key)["Body"]
            yield from _parse(body.iter_lines(), f"s3://{parsed.bucket}/{key}", endpoint, variant)
    except (BotoCoreError, ClientError) as exc:
        raise CaptureReadError(f"s3://{parsed.bucket}/{parsed.key}: {exc}") from None
