"""Install an archive's ``code/requirements.txt`` into a cached environment layered over this one.

Only when asked (``--install-requirements`` / ``MODELPORT_INSTALL_REQUIREMENTS=1``). The packages go
into ``MODELPORT_HOME/envs/<hash>``, a virtual environment that sees the current environment's
packages through a ``.pth`` file, so only what is missing or pinned differently is installed, and
nothing is ever written into the user's own environment. Workers put its ``site-packages`` first
on ``sys.path``. The environment is keyed by the file's content and the Python version.

One install per environment at a time: a file lock (``MODELPORT_HOME/locks/env-<hash>.lock``) is held while pip runs,
so a second server starting with the same requirements waits and then reuses the finished
environment (a lock left by a killed process is released by the kernel). pip runs in its own
process group and is killed with it after ``MODELPORT_PIP_TIMEOUT`` seconds; the half-built
environment is then removed. ``MODELPORT_PIP_INDEX_URLS`` optionally restricts where packages may
come from (see ``pip_sources.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import time
from functools import partial
from pathlib import Path
from typing import Iterator

from pydantic import Field

from modelport.process import die_with_parent
from modelport.runtime.errors import StartupError
from modelport.runtime.pip_sources import check_sources, parse_allowed
from modelport.settings import ModelportSettings

COMPLETE_MARKER = ".modelport-complete"


class PipSettings(ModelportSettings):
    """How requirements are installed. Each field names the environment variable it reads."""

    timeout_seconds: float = Field(
        default=600,
        validation_alias="MODELPORT_PIP_TIMEOUT",
        gt=0,
        description="Seconds one pip install may take; then its process group is killed.",
    )
    index_urls: str = Field(
        default="",
        validation_alias="MODELPORT_PIP_INDEX_URLS",
        description="Comma- or space-separated index URLs pip may use; empty: pip's own configuration.",
    )


def requirements_file(model_dir: Path) -> Path | None:
    """``<model_dir>/code/requirements.txt`` when it exists."""
    path = model_dir / "code" / "requirements.txt"
    return path if path.is_file() else None


def environment_key(requirements: Path) -> str:
    """A key for the cached environment: the file's hash and the Python version."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


def _site_packages(env_dir: Path) -> Path:
    relative = Path(sysconfig.get_path("purelib")).relative_to(sysconfig.get_path("data"))
    return env_dir / relative


def ensure_environment(model_dir: Path, home: Path, settings: PipSettings | None = None) -> str | None:
    """Install the archive's requirements (once per distinct file); return the site-packages to add.

    Returns None when the archive has no requirements.txt. Raises StartupError with pip's output
    when the install fails, times out, or names a package source outside the allow-list.
    """
    requirements = requirements_file(model_dir)
    if requirements is None:
        return None
    settings = settings or PipSettings()
    allowed = parse_allowed(settings.index_urls)
    if allowed:
        check_sources(requirements, allowed)
    env_dir = home / "envs" / environment_key(requirements)
    site_packages = _site_packages(env_dir)
    if (env_dir / COMPLETE_MARKER).is_file():
        return str(site_packages)
    lock = home / "locks" / f"env-{env_dir.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    # A holder that is killed releases the lock; waiting longer than one install could take is a fault.
    with _install_lock(lock, settings.timeout_seconds + 60):
        if (env_dir / COMPLETE_MARKER).is_file():
            return str(site_packages)  # another server installed it while this one waited
        if env_dir.exists():
            shutil.rmtree(env_dir)  # half-built by a process that died: nobody else holds the lock
        _install(requirements, env_dir, site_packages, settings, allowed)
    return str(site_packages)


@contextlib.contextmanager
def _install_lock(path: Path, wait_seconds: float) -> Iterator[None]:
    with open(path, "a") as handle:
        deadline = time.monotonic() + wait_seconds
        announced = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StartupError(
                        f"Another process has been installing the same requirements for over {wait_seconds:g} s "
                        f"(lock {path}); stop it or raise MODELPORT_PIP_TIMEOUT."
                    ) from None
                if not announced:
                    print(f"modelport: waiting for another install of the same requirements ({path}) ...", file=sys.stderr, flush=True)
                    announced = True
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _install(requirements: Path, env_dir: Path, site_packages: Path, settings: PipSettings, allowed: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, capture_output=True, timeout=120)
    # Layer over the current environment: its packages (pip included) are visible, not copied.
    current = [*site.getsitepackages(), site.getusersitepackages()]
    (site_packages / "_modelport_base.pth").write_text("\n".join(current) + "\n")
    print(f"modelport: installing {requirements} into {env_dir} ...", file=sys.stderr, flush=True)
    command = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    if allowed:
        # pip's own configuration (PIP_* variables, pip.conf) could add other indexes: ignore it.
        command += ["--isolated", "--index-url", allowed[0], *[a for url in allowed[1:] for a in ("--extra-index-url", url)]]
    command += ["-r", str(requirements)]
    returncode, output = _run_pip(command, settings.timeout_seconds)
    if returncode is None:
        shutil.rmtree(env_dir, ignore_errors=True)
        raise StartupError(
            f"Installing {requirements} did not finish within {settings.timeout_seconds:g} s (MODELPORT_PIP_TIMEOUT); "
            f"pip was stopped and the half-built environment removed.\n{_tail(output)}"
        )
    if returncode != 0:
        shutil.rmtree(env_dir, ignore_errors=True)
        raise StartupError(f"Installing {requirements} failed (pip exit code {returncode}):\n{_tail(output)}")
    (env_dir / COMPLETE_MARKER).touch()


def _run_pip(command: list[str], timeout: float) -> tuple[int | None, str]:
    """Run pip in its own process group; (exit code, output), or (None, output so far) on timeout."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # pip and whatever it starts (builds) can be killed as one group
        # pip has its own process group, so a kill of the server's group misses it: ask Linux instead.
        preexec_fn=partial(die_with_parent, signal.SIGKILL, parent=os.getpid()),
    )
    try:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        output, _ = process.communicate()
        return None, output
    except BaseException:
        _kill_group(process.pid)  # the server is stopping (Ctrl-C): pip goes with it
        process.wait()
        raise


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])
