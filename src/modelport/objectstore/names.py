"""S3's rules for bucket names and object keys, checked before anything is stored."""

from __future__ import annotations

import re

from modelport.objectstore.errors import ObjectStoreError

# general purpose buckets: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_LIKE = re.compile(r"\d+\.\d+\.\d+\.\d+")
MAX_KEY_BYTES = 1024


def check_bucket_name(name: str) -> str:
    """``name`` if S3 would accept it for a new bucket; InvalidBucketName otherwise."""
    if (not _BUCKET.fullmatch(name) or ".." in name or ".-" in name or "-." in name
            or _IP_LIKE.fullmatch(name) or name.startswith(("xn--", "sthree-")) or name.endswith("-s3alias")):
        raise ObjectStoreError(
            "InvalidBucketName",
            "The specified bucket is not valid: bucket names are 3 to 63 characters of lower-case letters, "
            "digits, dots and hyphens, beginning and ending with a letter or digit.",
            BucketName=name,
        )
    return name


def check_key(key: str) -> str:
    """``key`` if S3 would store it: not empty, at most 1024 bytes of UTF-8."""
    if not key:
        raise ObjectStoreError("InvalidArgument", "An object key must not be empty.")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise ObjectStoreError("KeyTooLongError", "Your key is too long", Size=str(len(key.encode())),
                               MaxSizeAllowed=str(MAX_KEY_BYTES))
    return key
