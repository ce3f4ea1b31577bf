"""Parse artifact URIs: ``s3://bucket/key``, ``file:///abs/path``, ``file://rel/path`` or a plain path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

SCHEMES = ("file", "s3")


class StoreError(Exception):
    """An artifact could not be read or written; the message says which URI and why."""


@dataclass(frozen=True)
class ParsedUri:
    """``scheme`` is ``file`` or ``s3``; for file, ``path`` is set; for s3, ``bucket`` and ``key``."""

    scheme: str
    path: Path | None = None
    bucket: str = ""
    key: str = ""


def parse_uri(uri: str | Path) -> ParsedUri:
    """Split ``uri`` into its parts; raise :class:`StoreError` for an unsupported scheme."""
    if isinstance(uri, Path):
        return ParsedUri("file", path=uri)
    text = str(uri).strip()
    if not text:
        raise StoreError("empty artifact URI; accepted: a path, file://PATH or s3://BUCKET/KEY")
    if text.startswith("s3://"):
        bucket, _, key = text[5:].partition("/")
        if not bucket:
            raise StoreError(f"{text!r} has no bucket; expected s3://BUCKET/KEY")
        return ParsedUri("s3", bucket=bucket, key=key)
    if text.startswith("file://"):
        return ParsedUri("file", path=Path(unquote(text[7:])).expanduser())
    scheme, sep, _ = text.partition("://")
    if sep and scheme.isalpha():
        raise StoreError(f"unsupported scheme {scheme!r} in {text!r}; accepted: a path, file://PATH or s3://BUCKET/KEY")
    return ParsedUri("file", path=Path(text).expanduser())
