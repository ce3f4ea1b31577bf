"""The store's functions: the same calls for local files and S3 objects."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from modelport.store import s3
from modelport.store.uri import StoreError, parse_uri


def local_path(uri: str | Path) -> Path | None:
    """The local path behind a file URI or plain path; None for remote URIs."""
    parsed = parse_uri(uri)
    return parsed.path if parsed.scheme == "file" else None


def read_bytes(uri: str | Path) -> bytes:
    """The whole artifact at ``uri``."""
    parsed = parse_uri(uri)
    if parsed.scheme == "s3":
        return s3.read(parsed)
    try:
        return parsed.path.read_bytes()
    except OSError as exc:
        raise StoreError(f"cannot read {parsed.path}: {exc.strerror or exc}") from exc


def write_bytes(uri: str | Path, data: bytes) -> None:
    """Write ``data`` to ``uri`` (local files are written atomically)."""
    parsed = parse_uri(uri)
    if parsed.scheme == "s3":
        s3.write(parsed, data)
        return
    _atomic_write(parsed.path, lambda f: f.write(data))


def download(uri: str | Path, dest: str | Path) -> Path:
    """Copy the artifact at ``uri`` to the local file ``dest``; return ``dest``."""
    parsed = parse_uri(uri)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if parsed.scheme == "s3":
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
        try:
            s3.download(parsed, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest
    if not parsed.path.is_file():
        raise StoreError(f"no such file: {parsed.path}")
    with parsed.path.open("rb") as src:
        _atomic_write(dest, lambda f: shutil.copyfileobj(src, f, 1 << 20))
    return dest


def upload(source: str | Path, uri: str | Path) -> str:
    """Copy the local file ``source`` to ``uri``; return the URI written."""
    source = Path(source)
    if not source.is_file():
        raise StoreError(f"no such file to upload: {source}")
    parsed = parse_uri(uri)
    if parsed.scheme == "s3":
        s3.upload(source, parsed)
        return str(uri)
    download(source, parsed.path)
    return str(uri)


def exists(uri: str | Path) -> bool:
    """Whether an artifact exists at ``uri``."""
    parsed = parse_uri(uri)
    if parsed.scheme == "s3":
        return s3.exists(parsed)
    return parsed.path.exists()


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
