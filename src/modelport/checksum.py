"""File checksums: one streaming SHA-256 for every part that verifies or names files by content."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def sha256_of(path: Path | str) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks (FileNotFoundError when it is absent)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
