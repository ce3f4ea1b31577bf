"""Helpers for the archive tests: build model folders and hand-crafted (also malicious) tar files."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

INFERENCE_PY = '''\
"""A tiny SageMaker handler used by the archive tests."""
import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as handle:
        return json.load(handle)


def predict_fn(data, model):
    return [model["scale"] * float(x) for x in data]
'''


def make_model_dir(root: Path, *, with_code: bool = True) -> Path:
    """A model folder as a training job leaves it: ``model.json`` (+ ``code/inference.py``)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.json").write_text('{"scale": 2.0}\n')
    (root / "weights").mkdir(exist_ok=True)
    (root / "weights" / "layer.bin").write_bytes(bytes(range(256)) * 4)
    if with_code:
        (root / "code").mkdir(exist_ok=True)
        (root / "code" / "inference.py").write_text(INFERENCE_PY)
        (root / "code" / "requirements.txt").write_text("")
    return root


def tar_info(name: str, kind: bytes = tarfile.REGTYPE, *, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    """A tar header for ``name`` of type ``kind`` (REGTYPE, DIRTYPE, SYMTYPE, LNKTYPE, CHRTYPE, ...)."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.linkname = linkname
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """Write a gzip tar holding exactly ``members`` (header, data) in order, unchecked."""
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def write_raw_header_tar(path: Path, info: tarfile.TarInfo) -> Path:
    """A gzip tar of one header that declares ``info.size`` bytes but carries none (a size bomb)."""
    raw = info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")
    path.write_bytes(gzip.compress(raw + b"\0" * tarfile.BLOCKSIZE * 2))
    return path


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (posix, relative) mapped to its bytes, None for folders."""
    return {
        path.relative_to(folder).as_posix(): (None if path.is_dir() else path.read_bytes())
        for path in sorted(folder.rglob("*"))
    }
