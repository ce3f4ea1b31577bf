"""Helpers for the aws tests (under moto): small real archives, a built page, and dummy credentials
(set when this module is imported, so no test can reach a real AWS account by accident)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from modelport.archive.pack import pack_archive

ACCOUNT = "123456789012"  # moto's default account

for _name, _value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                      "AWS_SESSION_TOKEN": "testing"}.items():
    os.environ.setdefault(_name, _value)


def make_archive(root: Path, name: str, artifact: str, requirements: str, payload: bytes = b"weights",
                 metrics: dict | None = None) -> Path:
    """A small real SageMaker-layout archive."""
    src = root / name
    (src / "code").mkdir(parents=True, exist_ok=True)
    (src / "code" / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    if requirements:
        (src / "code" / "requirements.txt").write_text(requirements)
    (src / artifact).write_bytes(payload)
    if metrics is not None:
        (src / "metrics.json").write_text(json.dumps(metrics))
    return pack_archive(src, root / f"{name}.tar.gz")


def make_page(root: Path) -> Path:
    """A built page like Vite's output (page/dist)."""
    page = root / "dist"
    (page / "assets").mkdir(parents=True)
    (page / "index.html").write_text("<!doctype html><title>modelport</title>")
    (page / "assets" / "index-abc123.js").write_text("console.log(1)")
    (page / "assets" / "index-abc123.css").write_text("body{}")
    (page / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (page / "config.json").write_text('{"apiBase": ""}')
    return page
