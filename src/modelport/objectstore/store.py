"""The local object store: S3's buckets, objects and multipart uploads, on disk under one folder.

Layout: ``index.db`` (SQLite, see :mod:`.index`), ``blobs/`` (one immutable file per object body or
part), ``tmp/`` (bodies being written). A body is written to ``tmp/``, renamed into ``blobs/``, then the
index row is committed; only then is the write acknowledged. After a crash, ``tmp/`` and blobs no row
names are removed when the store is opened. Nothing here speaks HTTP: see ``modelport.hosting.s3``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from modelport.objectstore import names
from modelport.objectstore.blobs import BlobWriter, concatenate
from modelport.objectstore.errors import ObjectStoreError, no_such_bucket, no_such_key, no_such_upload
from modelport.objectstore.index import BucketInfo, Index, ObjectInfo, PartInfo, UploadInfo
from modelport.objectstore.listing import Listing, list_page

MIN_PART_SIZE = 5 * 1024 * 1024  # every part but the last, as S3
MAX_PART_NUMBER = 10_000


class ObjectStore:
    """Buckets and objects under ``root``; safe to use from several threads."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blob_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"
        self.index = Index(self.root / "index.db")
        self._collect_garbage()

    def close(self) -> None:
        """Close the index."""
        self.index.close()

    def _collect_garbage(self) -> None:
        """Remove half-written bodies and blobs that no index row names (a crash between the two steps)."""
        if self.tmp_dir.is_dir():
            for path in self.tmp_dir.iterdir():
                path.unlink(missing_ok=True)
        if self.blob_dir.is_dir():
            named = self.index.blobs()
            for path in self.blob_dir.glob("*/*"):
                if f"{path.parent.name}/{path.name}" not in named:
                    path.unlink(missing_ok=True)

    def _blob_path(self, blob: str) -> Path:
        return self.blob_dir / blob

    def _drop_blobs(self, blobs: list[str | None]) -> None:
        for blob in blobs:
            if blob:
                self._blob_path(blob).unlink(missing_ok=True)

    def _place(self, writer: BlobWriter) -> str:
        """Move a finished body into ``blobs/``; return its name."""
        blob = uuid.uuid4().hex
        blob = f"{blob[:2]}/{blob}"
        writer.move_to(self._blob_path(blob))
        return blob

    def new_body(self, digests: tuple[str, ...] = ("md5",)) -> BlobWriter:
        """A writer for a new object body or part; pass it to :meth:`put_object` or :meth:`upload_part`."""
        return BlobWriter(self.tmp_dir, digests)

    # buckets
    def create_bucket(self, name: str, region: str) -> BucketInfo:
        """Create a bucket; ``BucketAlreadyOwnedByYou`` when it exists (every local caller is its owner)."""
        names.check_bucket_name(name)
        if not self.index.add_bucket(name, time.time(), region):
            raise ObjectStoreError("BucketAlreadyOwnedByYou",
                                   "Your previous request to create the named bucket succeeded and you already "
                                   "own it.", BucketName=name)
        return self.bucket(name)

    def bucket(self, name: str) -> BucketInfo:
        """The bucket; ``NoSuchBucket`` when absent."""
        info = self.index.bucket(name)
        if info is None:
            raise no_such_bucket(name)
        return info

    def buckets(self) -> list[BucketInfo]:
        """Every bucket."""
        return self.index.buckets()

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket; ``BucketNotEmpty`` otherwise."""
        with self.index.transaction():
            self.bucket(name)
            if self.index.has_objects(name):
                raise ObjectStoreError("BucketNotEmpty", "The bucket you tried to delete is not empty",
                                       BucketName=name)
            self.index.delete_bucket(name)

    # objects
    def put_object(self, bucket: str, key: str, body: BlobWriter, headers: dict[str, str],
                   metadata: dict[str, str], if_none_match: bool = False) -> ObjectInfo:
        """Store a finished body as ``bucket/key`` (replacing any object there).

        ``if_none_match``: refuse with ``PreconditionFailed`` when the key exists (S3's ``If-None-Match: *``).
        """
        names.check_key(key)
        body.finish()
        blob = self._place(body)
        info = ObjectInfo(bucket, key, blob, body.size, body.md5_hex, time.time(), headers, metadata)
        try:
            with self.index.transaction():
                self.bucket(bucket)
                if if_none_match and self.index.object(bucket, key) is not None:
                    raise ObjectStoreError("PreconditionFailed",
                                           "At least one of the pre-conditions you specified did not hold",
                                           Condition="If-None-Match")
                old = self.index.put_object(info)
        except BaseException:
            self._drop_blobs([blob])
            raise
        self._drop_blobs([old])
        return info

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        """The object's row; ``NoSuchBucket`` / ``NoSuchKey`` when absent."""
        info = self.index.object(bucket, key)
        if info is None:
            self.bucket(bucket)
            raise no_such_key(key)
        return info

    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, BinaryIO]:
        """The object's row and its body opened for reading (consistent even if the object is replaced)."""
        with self.index.lock:
            info = self.head_object(bucket, key)
            return info, self._blob_path(info.blob).open("rb")

    def delete_object(self, bucket: str, key: str) -> None:
        """Delete the object; deleting a missing key succeeds (as S3); ``NoSuchBucket`` when no bucket."""
        with self.index.transaction():
            self.bucket(bucket)
            old = self.index.delete_object(bucket, key)
        self._drop_blobs([old])

    def copy_object(self, source: tuple[str, str], target: tuple[str, str],
                    headers: dict[str, str] | None = None, metadata: dict[str, str] | None = None) -> ObjectInfo:
        """Copy an object; ``headers``/``metadata`` replace the source's when given (S3's REPLACE directive)."""
        names.check_key(target[1])
        self.bucket(target[0])
        info, handle = self.open_object(*source)
        body = self.new_body(())
        try:
            with handle:
                while data := handle.read(1 << 20):
                    body.write(data)
            body.finish()
        except BaseException:
            body.discard()
            raise
        blob = self._place(body)
        copied = replace(info, bucket=target[0], key=target[1], blob=blob, modified=time.time(),
                         headers=info.headers if headers is None else headers,
                         metadata=info.metadata if metadata is None else metadata)
        try:
            with self.index.transaction():
                self.bucket(target[0])
                old = self.index.put_object(copied)
        except BaseException:
            self._drop_blobs([blob])
            raise
        self._drop_blobs([old])
        return copied

    def list_objects(self, bucket: str, prefix: str = "", delimiter: str = "", after: str = "",
                     max_keys: int = 1000) -> Listing:
        """One page of keys in S3's order; ``after`` is the previous page's ``last`` (or a start-after key)."""
        self.bucket(bucket)
        return list_page(self.index, bucket, prefix, delimiter, after, max_keys)

    # multipart uploads
    def create_upload(self, bucket: str, key: str, headers: dict[str, str], metadata: dict[str, str]) -> UploadInfo:
        """Start a multipart upload to ``bucket/key``."""
        names.check_key(key)
        self.bucket(bucket)
        upload = UploadInfo(secrets.token_urlsafe(48), bucket, key, time.time(), headers, metadata)
        self.index.add_upload(upload)
        return upload

    def _upload(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        upload = self.index.upload(upload_id)
        if upload is None or upload.bucket != bucket or upload.key != key:
            self.bucket(bucket)
            raise no_such_upload(upload_id)
        return upload

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, body: BlobWriter) -> PartInfo:
        """Store part ``number`` (1–10,000) of an upload, replacing an earlier part with that number."""
        if not 1 <= number <= MAX_PART_NUMBER:
            body.discard()
            raise ObjectStoreError("InvalidArgument", f"Part number must be an integer between 1 and "
                                   f"{MAX_PART_NUMBER}, inclusive", ArgumentName="partNumber",
                                   ArgumentValue=str(number))
        body.finish()
        blob = self._place(body)
        part = PartInfo(number, blob, body.size, body.md5_hex, time.time())
        try:
            with self.index.transaction():
                self._upload(bucket, key, upload_id)
                old = self.index.put_part(upload_id, part)
        except BaseException:
            self._drop_blobs([blob])
            raise
        self._drop_blobs([old])
        return part

    def complete_upload(self, bucket: str, key: str, upload_id: str, chosen: list[tuple[int, str]]) -> ObjectInfo:
        """Assemble the parts ``chosen`` (number, ETag without quotes; ascending) into the object.

        The ETag is S3's: the MD5 of the parts' binary MD5s, then ``-<count>``. Parts not chosen are discarded.
        """
        upload = self._upload(bucket, key, upload_id)
        if not chosen:
            raise ObjectStoreError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                                   "against our published schema: it lists no part.")
        numbers = [number for number, _ in chosen]
        if numbers != sorted(set(numbers)):
            raise ObjectStoreError("InvalidPartOrder", "The list of parts was not in ascending order. Parts must "
                                   "be ordered by part number.", UploadId=upload_id)
        stored = {p.number: p for p in self.index.parts(upload_id)}
        parts = []
        for number, etag in chosen:
            part = stored.get(number)
            if part is None or part.etag != etag:
                raise ObjectStoreError("InvalidPart", "One or more of the specified parts could not be found. The "
                                       "part may not have been uploaded, or the specified entity tag may not match "
                                       "the part's entity tag.", UploadId=upload_id, PartNumber=str(number),
                                       ETag=etag)
            parts.append(part)
        for part in parts[:-1]:
            if part.size < MIN_PART_SIZE:
                raise ObjectStoreError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed "
                                       "object size.", ProposedSize=str(part.size), MinSizeAllowed=str(MIN_PART_SIZE),
                                       PartNumber=str(part.number), ETag=part.etag)
        body = self.new_body(())
        try:
            concatenate([self._blob_path(p.blob) for p in parts], body)
            body.finish()
        except FileNotFoundError:  # aborted or completed by another request meanwhile
            body.discard()
            raise no_such_upload(upload_id) from None
        except BaseException:
            body.discard()
            raise
        digest = hashlib.md5(b"".join(bytes.fromhex(p.etag) for p in parts))
        blob = self._place(body)
        info = ObjectInfo(bucket, key, blob, body.size, f"{digest.hexdigest()}-{len(parts)}", time.time(),
                          upload.headers, upload.metadata)
        try:
            with self.index.transaction():
                self._upload(bucket, key, upload_id)  # not completed or aborted meanwhile
                old = self.index.put_object(info)
                dropped = self.index.delete_upload(upload_id)
        except BaseException:
            self._drop_blobs([blob])
            raise
        self._drop_blobs([old, *dropped])
        return info

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """Abandon an upload and delete its parts."""
        with self.index.transaction():
            self._upload(bucket, key, upload_id)
            dropped = self.index.delete_upload(upload_id)
        self._drop_blobs(dropped)
