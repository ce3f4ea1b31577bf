"""modelport as a user installs it: ``python -m build`` makes a wheel; a fresh virtual environment holding only
that wheel and its dependencies runs every command from an empty folder, with ``HOME`` pointed at a temporary
folder so that the state is seen to go to ``~/.modelport``.

Dependencies come from the local package indexes / pip cache, pinned by requirements.lock (torch 2.13.0 is the
CPU build on this machine's disk). One run here: 14 s for the core install, 18 s more for ``[ml]``, 16 s for
``up --fast`` (training four small models included); longer under load. The core commands run before ``[ml]`` is
installed, so they show that the core dependencies suffice for serving, packing, checking, hosting and the gateway.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.processes import ProcessExited, free_port, stop, wait_until_up
from tests.helpers.waiting import eventually

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
INSTALL_TIMEOUT = 600
TINY_MODEL = """
    import numpy as np

    def model_fn(model_dir):
        return np.loadtxt(f"{model_dir}/weights.txt")

    def predict_fn(data, weights):
        return (np.asarray(data, dtype=float) @ weights).tolist()
"""


def run(args: list, *, timeout: float, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure, fail with its output."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited with {result.returncode}:\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def user_environment(venv: Path, home: Path) -> dict[str, str]:
    """A user's shell: the venv's bin first, HOME at a temporary folder, no modelport/AWS/chat settings of
    this test run, no PYTHONPATH (the checkout must not leak in). Pip's and npm's caches stay the real ones
    (the data fetch downloads through them)."""
    real_home = Path.home()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODELPORT_", "AWS_", "CHAT_", "BEDROCK_", "SAGEMAKER_"))
           and not k.endswith("_ENDPOINT") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
               PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR", str(real_home / ".cache" / "pip")),
               npm_config_cache=os.environ.get("npm_config_cache", str(real_home / ".npm")),
               PYTHONUNBUFFERED="1")
    return env


def pip_install(venv: Path, requirement: str) -> None:
    """``pip install`` into the fresh venv, pinned by the lock, without this run's PYTHONPATH: a checkout on
    it (with its ``modelport.egg-info``) would make pip skip the wheel as "already satisfied"."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "-c", LOCK, requirement],
        timeout=INSTALL_TIMEOUT, env=env)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``python -m build`` of this checkout (sdist, then the wheel from the sdist), as a release is built."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], timeout=300, cwd=ROOT)
    wheels = sorted(out.glob("modelport-*.whl"))
    assert len(wheels) == 1, sorted(out.iterdir())
    return wheels[0]


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    """A fresh virtual environment with the wheel and its core dependencies only."""
    path = tmp_path_factory.mktemp("venv") / "v"
    run([sys.executable, "-m", "venv", path], timeout=120)
    started = time.monotonic()
    pip_install(path, str(wheel))
    print(f"core install: {time.monotonic() - started:.1f} s")
    return path


@pytest.fixture
def user(tmp_path, venv) -> dict:
    """An empty working folder and an empty HOME for one test."""
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    return {"cwd": cwd, "home": home, "env": user_environment(venv, home), "bin": venv / "bin"}


def test_the_wheel_carries_the_page_and_the_bundled_models_code(wheel):
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert "modelport/webpage/index.html" in names and "modelport/webpage/config.json" in names
    assert any(n.startswith("modelport/webpage/assets/") and n.endswith(".js") for n in names)
    for model in ("mnist-sklearn", "mnist-pytorch", "sentiment", "chat"):
        assert f"modelport/bundled_models/{model}/code/inference.py" in names
        assert f"modelport/bundled_models/{model}/code/requirements.txt" in names
    assert "modelport/bundled_models/shared/mnist_preprocessing.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    print(f"wheel: {wheel.name}, {wheel.stat().st_size / 1e3:.0f} kB")


def _copy_checkout(target: Path) -> Path:
    """The files git tracks (what a fresh clone has), without page/dist."""
    tracked = run(["git", "ls-files", "-z"], timeout=60, cwd=ROOT).stdout.split("\0")
    for name in filter(None, tracked):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_building_a_wheel_without_a_current_page_fails_and_says_what_to_run(tmp_path):
    checkout = _copy_checkout(tmp_path / "clone")
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp_path / "out", checkout]
    missing = run(build, timeout=300, check=False, cwd=checkout)
    assert missing.returncode != 0
    assert "page/dist/index.html does not exist" in missing.stdout + missing.stderr
    assert "make page-build" in missing.stdout + missing.stderr
    # a page built before its sources last changed is refused too
    shutil.copytree(ROOT / "page" / "dist", checkout / "page" / "dist")
    os.utime(checkout / "page" / "dist" / "index.html", (time.time() - 60,) * 2)
    (checkout / "page" / "src" / "App.jsx").touch()
    stale = run(build, timeout=300, check=False, cwd=checkout)
    assert stale.returncode != 0, stale.stdout[-2000:]
    assert "page/dist is older than page/src/App.jsx" in stale.stdout + stale.stderr
    assert not list(tmp_path.glob("out/*.whl"))


def test_core_commands_work_from_an_empty_folder(user):
    env, cwd, home, bin_ = user["env"], user["cwd"], user["home"], user["bin"]
    modelport = bin_ / "modelport"
    assert "~/.modelport" in run([modelport, "--help"], timeout=60, env=env, cwd=cwd).stdout

    # pack and check a model whose code needs only the core dependencies
    model = cwd / "tiny"
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(textwrap.dedent(TINY_MODEL))
    (model / "weights.txt").write_text("1\n2\n3\n")
    (cwd / "request.json").write_text("[[1, 1, 1]]")
    run([modelport, "pack", model, "-o", cwd / "model.tar.gz"], timeout=120, env=env, cwd=cwd)
    checked = run([modelport, "check", cwd / "model.tar.gz", "--sample", cwd / "request.json"], timeout=180, env=env, cwd=cwd)
    assert "ready to serve" in checked.stdout

    # serve it directly (SageMaker's container contract)
    port = free_port()
    log = cwd.parent / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([modelport, "serve", cwd / "model.tar.gz", "--port", str(port), "--workers", "1"],
                                  env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping", server, log.read_text, timeout=90)
        answer = httpx.post(f"http://127.0.0.1:{port}/invocations", content=b"[[1, 1, 1]]",
                            headers={"Content-Type": "application/json"}, timeout=30)
        assert answer.status_code == 200 and answer.json() == [6.0]
    finally:
        stop(server, grace=30)

    # hosting, a deploy onto it, and the gateway serving the page and the model
    hosting_port, gateway_port = free_port(), free_port()
    hosting_url, gateway_url = f"http://127.0.0.1:{hosting_port}", f"http://127.0.0.1:{gateway_port}"
    hosting_log, gateway_log = cwd.parent / "hosting.log", cwd.parent / "gateway.log"
    with hosting_log.open("w") as out:
        hosting = subprocess.Popen([modelport, "hosting", "--port", str(hosting_port)], env=env, cwd=cwd,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    gateway = None
    try:
        wait_until_up(hosting_url + "/ping", hosting, hosting_log.read_text, timeout=90)
        run([modelport, "deploy", cwd / "model.tar.gz", "--endpoint", "tiny", "--url", hosting_url, "--timeout", "180"],
            timeout=240, env=env, cwd=cwd)
        invoked = run([modelport, "invoke", "tiny", "--body", "[[1, 2, 3]]", "--url", hosting_url], timeout=60, env=env, cwd=cwd)
        assert "14.0" in invoked.stdout
        gateway_env = {**env, "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": hosting_url, "AWS_ENDPOINT_URL_SAGEMAKER": hosting_url,
                       "AWS_ACCESS_KEY_ID": "modelport", "AWS_SECRET_ACCESS_KEY": "modelport", "AWS_REGION": "us-east-1",
                       "MODELPORT_MODE": "local", "MODELPORT_ROUTES": "tiny=tiny", "CHAT_PROVIDER": "none"}
        with gateway_log.open("w") as out:
            gateway = subprocess.Popen([modelport, "gateway", "--port", str(gateway_port)], env=gateway_env, cwd=cwd,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_up(gateway_url + "/health", gateway, gateway_log.read_text, timeout=90)
        page = httpx.get(gateway_url + "/", timeout=10)
        assert page.status_code == 200 and '<div id="root">' in page.text  # the page the wheel carries
        answer = httpx.post(gateway_url + "/invoke/tiny", content=b"[[0, 0, 1]]", headers={"Content-Type": "application/json"}, timeout=30)
        assert answer.status_code == 200 and answer.json() == [3.0], answer.text
    finally:
        if gateway is not None:
            stop(gateway, grace=30)
        stop(hosting, grace=30)
    # all state went to ~/.modelport; the working folder holds only what the user put there
    assert (home / ".modelport" / "hosting" / "token").is_file()
    assert sorted(p.name for p in cwd.iterdir()) == ["model.tar.gz", "request.json", "tiny"]


def test_up_fast_trains_deploys_and_serves_the_page(user, venv, wheel):
    env, cwd, home = user["env"], user["cwd"], user["home"]
    started = time.monotonic()
    pip_install(venv, f"{wheel}[ml]")
    print(f"[ml] install: {time.monotonic() - started:.1f} s")

    port, hosting_port = free_port(), free_port()
    log = cwd.parent / "up.log"
    started = time.monotonic()
    with log.open("w") as out:
        up = subprocess.Popen([venv / "bin" / "modelport", "up", "--fast", "--port", str(port), "--hosting-port", str(hosting_port)],
                              env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def is_up() -> bool:
            if up.poll() is not None:
                raise ProcessExited(f"modelport up exited with {up.returncode}:\n{log.read_text()[-4000:]}")
            return "modelport is up" in log.read_text()

        eventually(is_up, 600, 0.5, message=lambda: f"modelport up --fast was not up after 600 s:\n{log.read_text()[-4000:]}")
        print(f"up --fast from an empty home: {time.monotonic() - started:.1f} s")
        url = f"http://127.0.0.1:{port}"
        page = httpx.get(url + "/", timeout=10)
        assert page.status_code == 200 and '<div id="root">' in page.text
        models = {m["name"]: m for m in httpx.get(url + "/models", timeout=30).json()["models"]}
        assert {"mnist-sklearn", "mnist-pytorch", "sentiment", "chat"} <= set(models)
        assert all(models[name]["status"] == "InService" for name in ("mnist-sklearn", "mnist-pytorch", "sentiment", "chat"))
        answer = httpx.post(url + "/predict/sentiment", json={"text": "what a great day"}, timeout=30)
        assert answer.status_code == 200 and answer.json()["predictions"][0]["label"] in ("negative", "neutral", "positive")
        reply = httpx.post(url + "/chat", json={"messages": [{"role": "user", "content": "hi"}], "maxTokens": 20}, timeout=60)
        assert reply.status_code == 200 and "reply" in reply.json()
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait(timeout=10)
    assert up.returncode == 0, log.read_text()[-4000:]
    state = home / ".modelport"
    for name in ("mnist-sklearn", "mnist-pytorch", "sentiment", "chat"):
        assert (state / "bundled" / name / "model.tar.gz").is_file()
    assert (state / "data").is_dir() and (state / "logs").is_dir()
    assert list(cwd.iterdir()) == [], "modelport up wrote into the working folder instead of ~/.modelport"
