"""``code/requirements.txt`` installs only when asked, into a cached layered environment."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.runtime import ModelServer, write_model
from tests.helpers.wheels import SCRIPT, make_wheel

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
