"""Read and write artifacts by URI: ``file://`` and plain paths (the default), or ``s3://``.

S3 goes through boto3, so real S3 works with the usual AWS settings and any S3-compatible server
works via ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``).

>>> upload("model.tar.gz", "s3://bucket/models/model.tar.gz")
>>> download("s3://bucket/models/model.tar.gz", "/tmp/model.tar.gz")
"""

from modelport.store.api import (
    download,
    exists,
    local_path,
    read_bytes,
    upload,
    write_bytes,
)
from modelport.store.uri import ParsedUri, StoreError, parse_uri

__all__ = [
    "StoreError",
    "ParsedUri",
    "parse_uri",
    "read_bytes",
    "write_bytes",
    "download",
    "upload",
    "exists",
    "local_path",
]
