"""Install an archive's ``code/requirements.txt`` into a cached environment layered over this one.

Only when asked (``--install-requirements`` / ``MODELPORT_INSTALL_REQUIREMENTS=1``). The packages go
into ``MODELPORT_HOME/envs/<hash>``, a virtual environment that sees the current environment's
packages through a ``.pth`` file, so only what is missing or pinned differently is installed, and
nothing is ever written into the user's own environment. Workers put its ``site-packages`` first
on ``sys.path``. The environment is keyed by the file's content and the Python version.
"""

from __future__ import annotations

import hashlib
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

from modelport.runtime.errors import StartupError

COMPLETE_MARKER = ".modelport-complete"


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


def ensure_environment(model_dir: Path, home: Path) -> str | None:
    """Install the archive's requirements (once per distinct file); return the site-packages to add.

    Returns None when the archive has no requirements.txt. Raises StartupError with pip's output
    when the install fails.
    """
    requirements = requirements_file(model_dir)
    if requirements is None:
        return None
    env_dir = home / "envs" / environment_key(requirements)
    site_packages = _site_packages(env_dir)
    if (env_dir / COMPLETE_MARKER).is_file():
        return str(site_packages)
    if env_dir.exists():
        shutil.rmtree(env_dir)  # a half-built environment from an interrupted install
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, capture_output=True)
    # Layer over the current environment: its packages (pip included) are visible, not copied.
    current = [*site.getsitepackages(), site.getusersitepackages()]
    (site_packages / "_modelport_base.pth").write_text("\n".join(current) + "\n")
    print(f"modelport: installing {requirements} into {env_dir} ...", file=sys.stderr, flush=True)
    result = subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(requirements)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        shutil.rmtree(env_dir, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise StartupError(f"Installing {requirements} failed (pip exit code {result.returncode}):\n{tail}")
    (env_dir / COMPLETE_MARKER).touch()
    return str(site_packages)
