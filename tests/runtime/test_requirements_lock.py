"""requirements.txt installs: one pip run per environment, a timeout, and an index allow-list.

pip runs are counted by a ``sitecustomize`` put on the servers' PYTHONPATH: every
``python -m pip install`` process appends its pid to a log (and may sleep, to widen a race or
outlast a timeout). No network: packages come from a wheel built here, by path or from a local
PEP 503 index.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from modelport.runtime.pip_sources import line_problem, parse_allowed
from tests.helpers.runtime import ModelServer, write_model
from tests.helpers.wheels import SCRIPT, make_wheel

PIP_HOOK = """
    import os, sys, time

    if sys.orig_argv[1:4] == ["-m", "pip", "install"] and os.environ.get("MODELPORT_TEST_PIP_LOG"):
        with open(os.environ["MODELPORT_TEST_PIP_LOG"], "a") as log:
            log.write(f"{os.getpid()}\\n")
        time.sleep(float(os.environ.get("MODELPORT_TEST_PIP_SLEEP", "0")))
"""


@pytest.fixture
def counted_pip(tmp_path) -> tuple[dict[str, str], Path]:
    """Environment variables that make every pip install of a server log its pid; and the log."""
    hook = tmp_path / "pip-hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent(PIP_HOOK))
    log = tmp_path / "pip-runs.log"
    log.touch()
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "MODELPORT_TEST_PIP_LOG": str(log), "MODELPORT_INSTALL_REQUIREMENTS": "1"}, log


def pip_runs(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()]


def test_two_servers_sharing_requirements_run_pip_once(tmp_path, counted_pip):
    env, log = counted_pip
    model = write_model(tmp_path / "m", SCRIPT)
    (model / "code" / "requirements.txt").write_text(f"{make_wheel(tmp_path, 'installed')}\n")
    servers = [ModelServer(model, env={**env, "MODELPORT_TEST_PIP_SLEEP": "3"}, home=tmp_path / "home") for _ in range(2)]
    starts = [threading.Thread(target=server.start, kwargs={"timeout": 90}) for server in servers]
    try:
        for start in starts:
            start.start()
        for start in starts:
            start.join()
        answers = [server.post("[0]").json() for server in servers]
    finally:
        for server in servers:
            server.stop()
    assert answers == ["installed", "installed"]
    assert len(pip_runs(log)) == 1
    stderr = [server.process.stderr.read() for server in servers]
    assert sum("waiting for another install" in text for text in stderr) == 1, stderr  # they did overlap
    (environment,) = (tmp_path / "home" / "envs").iterdir()
    assert (environment / ".modelport-complete").is_file()


def test_pip_past_its_timeout_is_killed_and_its_environment_removed(tmp_path, counted_pip):
    env, log = counted_pip
    model = write_model(tmp_path / "m", SCRIPT)
    (model / "code" / "requirements.txt").write_text(f"{make_wheel(tmp_path, 'installed')}\n")
    env = {**env, "MODELPORT_TEST_PIP_SLEEP": "60", "MODELPORT_PIP_TIMEOUT": "2"}
    started = time.monotonic()
    code, stderr = ModelServer(model, env=env, home=tmp_path / "home").start(wait=False).wait_exit(60)
    assert code == 1 and time.monotonic() - started < 30
    assert "did not finish within 2 s (MODELPORT_PIP_TIMEOUT)" in stderr
    (pid,) = pip_runs(log)
    assert not Path(f"/proc/{pid}").exists()
    assert list((tmp_path / "home" / "envs").iterdir()) == []


def local_index(root: Path, wheel: Path) -> str:
    """A PEP 503 simple index holding one wheel; its file:// URL."""
    project = root / "simple" / "modelport-demo-dep"
    project.mkdir(parents=True)
    (project / wheel.name).write_bytes(wheel.read_bytes())
    (project / "index.html").write_text(f'<html><body><a href="{wheel.name}">{wheel.name}</a></body></html>')
    return (root / "simple").as_uri()


def test_allow_list_refuses_other_indexes_before_pip_runs(tmp_path, counted_pip):
    env, log = counted_pip
    model = write_model(tmp_path / "m", SCRIPT)
    (model / "code" / "requirements.txt").write_text("--extra-index-url https://evil.example/simple\nmodelport_demo_dep\n")
    env = {**env, "MODELPORT_PIP_INDEX_URLS": local_index(tmp_path, make_wheel(tmp_path, "x"))}
    code, stderr = ModelServer(model, env=env, home=tmp_path / "home").start(wait=False).wait_exit(60)
    assert code == 1
    assert "line 1: --extra-index-url https://evil.example/simple is not an allowed index" in stderr
    assert "MODELPORT_PIP_INDEX_URLS" in stderr
    assert pip_runs(log) == []


def test_allow_list_installs_from_the_allowed_index_only(tmp_path, counted_pip):
    env, log = counted_pip
    model = write_model(tmp_path / "m", SCRIPT)
    (model / "code" / "requirements.txt").write_text("modelport_demo_dep==1.0.0\n")
    index = local_index(tmp_path / "index", make_wheel(tmp_path, "from the allowed index"))
    # pip's own configuration pointing elsewhere is ignored (--isolated)
    env = {**env, "MODELPORT_PIP_INDEX_URLS": index, "PIP_INDEX_URL": "https://evil.example/simple"}
    with ModelServer(model, env=env, home=tmp_path / "home") as server:
        assert server.post("[0]").json() == "from the allowed index"
    assert len(pip_runs(log)) == 1


ALLOWED = parse_allowed("https://pypi.org/simple, file:///srv/wheels")


@pytest.mark.parametrize(
    "line, problem",
    [
        ("numpy==2.0", None),
        ("foo[bar]>=1; python_version < '4'", None),
        ("pkg==1 --hash=sha256:abc", None),
        ("--no-index", None),
        ("-i https://pypi.org/simple", None),
        ("--extra-index-url=https://pypi.org/simple/", None),
        ("-f /srv/wheels/sub", None),
        ("foo @ file:///srv/wheels/foo.whl", None),
        ("/srv/wheels/foo.whl", None),
        ("--trusted-host pypi.org", None),
        ("--index-url https://evil.example/simple", "not an allowed index"),
        ("-ihttps://evil.example/simple", "not an allowed index"),
        ("-f /srv/wheels/../etc", "not an allowed index"),
        ("file:///srv/wheels%2f..%2f..%2fetc/x.whl", "not under an allowed index"),
        ("--find-links ./wheels", "not an allowed index"),
        ("--trusted-host evil.example", "not the host of an allowed index"),
        ("foo @ https://evil.example/foo.whl", "not under an allowed index"),
        ("https://evil.example/foo.whl", "not under an allowed index"),
        ("git+https://pypi.org/simple/foo", "not under an allowed index"),
        ("-e git+https://github.com/a/b", "not under an allowed index"),
        ("./foo.whl", "relative path"),
        ("-r other.txt", "includes another file"),
        ("-c constraints.txt", "includes another file"),
        ("https://pypi.org/simple/${AWS_SECRET_ACCESS_KEY}", "environment variable"),
    ],
)
def test_allow_list_line_checks(line, problem):
    found = line_problem(line, ALLOWED)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_pip_hook_counts_only_pip_installs(tmp_path, counted_pip):
    env, log = counted_pip
    run_env = {**os.environ, **env}
    subprocess.run([sys.executable, "-c", "pass"], env=run_env, check=True)
    subprocess.run([sys.executable, "-m", "pip", "--version"], env=run_env, check=True, capture_output=True)
    assert pip_runs(log) == []
