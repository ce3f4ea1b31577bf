"""The object store's index: buckets, objects, multipart uploads and their parts in one SQLite file.

A row points at its body's blob file by name. Rows change in transactions, so after a kill -9 the index
names exactly the objects whose writes were acknowledged; blobs no row names are removed on open.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY, created REAL NOT NULL, region TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    modified REAL NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL, PRIMARY KEY (bucket, key));
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, created REAL NOT NULL,
    headers TEXT NOT NULL, metadata TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, number INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, modified REAL NOT NULL, PRIMARY KEY (upload_id, number));
"""


@dataclass(frozen=True)
class BucketInfo:
    """A bucket: its name, creation time (epoch seconds) and region."""

    name: str
    created: float
    region: str


@dataclass(frozen=True)
class ObjectInfo:
    """An object's row: ``etag`` without quotes; ``headers`` are stored HTTP headers (Content-Type, …),
    ``metadata`` the user's ``x-amz-meta-*`` pairs (names without the prefix)."""

    bucket: str
    key: str
    blob: str
    size: int
    etag: str
    modified: float
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UploadInfo:
    """A multipart upload in progress."""

    upload_id: str
    bucket: str
    key: str
    created: float
    headers: dict[str, str]
    metadata: dict[str, str]


@dataclass(frozen=True)
class PartInfo:
    """One uploaded part."""

    number: int
    blob: str
    size: int
    etag: str
    modified: float


def _object(row: sqlite3.Row) -> ObjectInfo:
    return ObjectInfo(row["bucket"], row["key"], row["blob"], row["size"], row["etag"], row["modified"],
                      json.loads(row["headers"]), json.loads(row["metadata"]))


class Index:
    """Thread-safe access to the index at ``path``; :meth:`transaction` groups changes atomically."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock and run the block's statements as one transaction (rolled back on error)."""
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        with self.lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self._db.execute(sql, args).fetchall()

    def _run(self, sql: str, args: tuple = ()) -> int:
        with self.lock:
            return self._db.execute(sql, args).rowcount

    # buckets
    def bucket(self, name: str) -> BucketInfo | None:
        """The bucket called ``name``, or None."""
        row = self._one("SELECT * FROM buckets WHERE name = ?", (name,))
        return BucketInfo(row["name"], row["created"], row["region"]) if row else None

    def buckets(self) -> list[BucketInfo]:
        """Every bucket, by name."""
        return [BucketInfo(r["name"], r["created"], r["region"])
                for r in self._all("SELECT * FROM buckets ORDER BY name")]

    def add_bucket(self, name: str, created: float, region: str) -> bool:
        """Add a bucket; False when it exists."""
        return self._run("INSERT OR IGNORE INTO buckets VALUES (?, ?, ?)", (name, created, region)) == 1

    def delete_bucket(self, name: str) -> None:
        """Remove a bucket row (the caller checked it is empty)."""
        self._run("DELETE FROM buckets WHERE name = ?", (name,))

    def has_objects(self, bucket: str) -> bool:
        """Whether any object is in ``bucket``."""
        return self._one("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (bucket,)) is not None

    # objects
    def object(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's row, or None."""
        row = self._one("SELECT * FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
        return _object(row) if row else None

    def put_object(self, info: ObjectInfo) -> str | None:
        """Insert or replace the object's row; return the blob it replaced (to delete), if any."""
        old = self.object(info.bucket, info.key)
        self._run("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (info.bucket, info.key, info.blob, info.size, info.etag, info.modified,
                   json.dumps(info.headers), json.dumps(info.metadata)))
        return old.blob if old else None

    def delete_object(self, bucket: str, key: str) -> str | None:
        """Remove the object's row; return its blob (to delete), if it existed."""
        old = self.object(bucket, key)
        if old is not None:
            self._run("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
        return old.blob if old else None

    def objects_from(self, bucket: str, start: str, inclusive: bool, end: str | None, limit: int) -> list[ObjectInfo]:
        """Up to ``limit`` objects with ``start`` ≤ (or <) key < ``end``, in S3's order (UTF-8 bytes)."""
        sql = f"SELECT * FROM objects WHERE bucket = ? AND key {'>=' if inclusive else '>'} ?"
        args: tuple[Any, ...] = (bucket, start)
        if end is not None:
            sql += " AND key < ?"
            args += (end,)
        return [_object(r) for r in self._all(sql + " ORDER BY key LIMIT ?", args + (limit,))]

    def blobs(self) -> set[str]:
        """Every blob a row names."""
        rows = self._all("SELECT blob FROM objects UNION SELECT blob FROM parts")
        return {r["blob"] for r in rows}

    # multipart uploads
    def add_upload(self, upload: UploadInfo) -> None:
        """Record a new multipart upload."""
        self._run("INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?)",
                  (upload.upload_id, upload.bucket, upload.key, upload.created,
                   json.dumps(upload.headers), json.dumps(upload.metadata)))

    def upload(self, upload_id: str) -> UploadInfo | None:
        """The upload, or None."""
        row = self._one("SELECT * FROM uploads WHERE upload_id = ?", (upload_id,))
        if row is None:
            return None
        return UploadInfo(row["upload_id"], row["bucket"], row["key"], row["created"],
                          json.loads(row["headers"]), json.loads(row["metadata"]))

    def put_part(self, upload_id: str, part: PartInfo) -> str | None:
        """Insert or replace a part; return the blob it replaced, if any."""
        old = self._one("SELECT blob FROM parts WHERE upload_id = ? AND number = ?", (upload_id, part.number))
        self._run("INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?)",
                  (upload_id, part.number, part.blob, part.size, part.etag, part.modified))
        return old["blob"] if old else None

    def parts(self, upload_id: str) -> list[PartInfo]:
        """The upload's parts by number."""
        return [PartInfo(r["number"], r["blob"], r["size"], r["etag"], r["modified"])
                for r in self._all("SELECT * FROM parts WHERE upload_id = ? ORDER BY number", (upload_id,))]

    def delete_upload(self, upload_id: str) -> list[str]:
        """Remove the upload and its parts; return the parts' blobs."""
        blobs = [p.blob for p in self.parts(upload_id)]
        self._run("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        self._run("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        return blobs
