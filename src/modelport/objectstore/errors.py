"""What can go wrong in the object store, named with S3's error codes so the S3 API maps them 1:1."""

from __future__ import annotations


class ObjectStoreError(Exception):
    """A refused operation: ``code`` is S3's error code (``NoSuchKey``, ``BadDigest``, …), ``message`` says why.

    ``fields`` are extra members S3 puts in its error document (``Key``, ``BucketName``, ``UploadId``, …).
    """

    def __init__(self, code: str, message: str, **fields: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


def no_such_bucket(bucket: str) -> ObjectStoreError:
    """The bucket does not exist."""
    return ObjectStoreError("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)


def no_such_key(key: str) -> ObjectStoreError:
    """The object does not exist."""
    return ObjectStoreError("NoSuchKey", "The specified key does not exist.", Key=key)


def no_such_upload(upload_id: str) -> ObjectStoreError:
    """The multipart upload does not exist (never created, completed or aborted)."""
    return ObjectStoreError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
        "aborted or completed.",
        UploadId=upload_id,
    )
