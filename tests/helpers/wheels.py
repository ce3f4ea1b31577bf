"""A real, minimal wheel of a package nobody has installed (``modelport_demo_dep``), and a model that imports it,
for the tests of ``code/requirements.txt``."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

SCRIPT = """
    import modelport_demo_dep
    def model_fn(model_dir):
        return modelport_demo_dep.VALUE
    def predict_fn(data, model):
        return model
"""


def make_wheel(directory: Path, value: str) -> Path:
    """A real, minimal wheel of a package nobody has installed (built here, no network)."""
    name, version = "modelport_demo_dep", "1.0.0"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    files = {
        f"{name}/__init__.py": f"VALUE = {value!r}\n".encode(),
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{name}-{version}.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel
