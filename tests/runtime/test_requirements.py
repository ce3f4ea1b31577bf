"""``code/requirements.txt`` installs only when asked, into a cached layered environment."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers.runtime import ModelServer, write_model

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


def test_requirements_are_ignored_unless_asked(tmp_path):
    model = write_model(tmp_path / "m", SCRIPT)
    (model / "code" / "requirements.txt").write_text(f"{make_wheel(tmp_path, 'installed')}\n")
    code, stderr = ModelServer(model, home=tmp_path / "home").start(wait=False).wait_exit(60)
    assert code == 1 and "No module named 'modelport_demo_dep'" in stderr


def test_requirements_install_into_a_cached_layered_environment(tmp_path):
    model = write_model(tmp_path / "m", SCRIPT)
    (model / "code" / "requirements.txt").write_text(f"{make_wheel(tmp_path, 'installed')}\nnumpy\n")
    home = tmp_path / "home"
    with ModelServer(model, "--install-requirements", home=home) as server:
        assert server.post("[0]").json() == "installed"
    environments = list((home / "envs").iterdir())
    assert len(environments) == 1
    site = next(environments[0].glob("lib/python*/site-packages"))
    assert (site / "modelport_demo_dep").is_dir()
    assert not (site / "numpy").exists()  # already in the base environment: layered, not copied
    probe = subprocess.run([sys.executable, "-c", "import modelport_demo_dep"], capture_output=True)
    assert probe.returncode != 0  # the user's own environment is untouched
    marker = environments[0] / ".modelport-complete"
    before = marker.stat().st_mtime_ns
    with ModelServer(model, env={"MODELPORT_INSTALL_REQUIREMENTS": "1"}, home=home) as server:
        assert server.post("[0]").json() == "installed"
    assert marker.stat().st_mtime_ns == before  # reused, not reinstalled


def test_failed_install_is_a_clear_startup_error(tmp_path):
    model = write_model(tmp_path / "m", SCRIPT)
    (model / "code" / "requirements.txt").write_text(f"{tmp_path / 'missing-1.0-py3-none-any.whl'}\n")
    code, stderr = ModelServer(model, "--install-requirements", home=tmp_path / "home").start(wait=False).wait_exit(120)
    assert code == 1
    assert "Installing" in stderr and "requirements.txt failed" in stderr
    assert not any((tmp_path / "home" / "envs").iterdir())
