"""Helpers for the real-world compatibility tests: NPY bodies, SDK-style CSV and SDK-style archives."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np


def npy(array) -> bytes:
    """An array as ``application/x-npy`` bytes (what the SDK's NumpySerializer sends)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array))
    return buffer.getvalue()


def from_npy(body: bytes) -> np.ndarray:
    """``application/x-npy`` bytes back to an array."""
    return np.load(io.BytesIO(body))


def sdk_csv(rows) -> str:
    """Rows as the SDK's CSVSerializer writes them: values joined by ``,``, rows by ``\\n``."""
    return "\n".join(",".join(str(value) for value in row) for row in np.asarray(rows).tolist())


def parse_answer(body: bytes, content_type: str) -> np.ndarray:
    """A response body as an array, read the way the SDK's NumpyDeserializer reads each type."""
    if content_type == "application/json":
        import json

        return np.array(json.loads(body))
    if content_type == "text/csv":
        return np.genfromtxt(io.StringIO(body.decode("utf-8")), delimiter=",")
    if content_type == "application/x-npy":
        return from_npy(body)
    raise AssertionError(f"unexpected response Content-Type {content_type!r}")


def sdk_tarball(model_dir: Path, tar_path: Path) -> Path:
    """``cd model_dir; tar czf model.tar.gz *``: files at the archive root, ``code/`` beside them."""
    with tarfile.open(tar_path, "w:gz") as tar:
        for name in sorted(os.listdir(model_dir)):
            tar.add(model_dir / name, arcname=name)
    return tar_path
