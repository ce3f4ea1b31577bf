"""Build the gateway's Lambda deployment zip for Python 3.12 on Lambda's architecture.

Contents: ``lambda_function.py`` at the root, the ``modelport`` package (Python sources), and the
gateway's runtime dependencies. Pure-Python distributions are copied from this environment (their
files do not depend on the Python version or machine). Distributions with compiled extensions
(pydantic-core, orjson, ...) are NOT copied — this machine's builds are for its own Python and CPU —
but taken from the matching PyPI wheel for CPython 3.12 manylinux on the function's architecture
(``pip download --only-binary=:all: --platform ... --python-version 3.12``), same version as installed,
cached under ``$MODELPORT_HOME/aws/wheels``. boto3/botocore come from the Lambda runtime.
The zip is deterministic (sorted entries, fixed timestamps): same inputs, same bytes, same CodeSha256.
"""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

import modelport

# What the gateway imports (see src/modelport/gateway); their requirements are followed.
GATEWAY_DISTRIBUTIONS = ("fastapi", "mangum", "pydantic-settings", "orjson", "httpx", "prometheus-client")
# In the Lambda Python runtime already (and large): not shipped.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
PYTHON = "3.12"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_PARTS = {"__pycache__"}
# files the package ships for other parts (the page goes to S3, model code into archives): not for Lambda
_NOT_FOR_LAMBDA = {"webpage", "bundled_models"}

LAMBDA_FUNCTION_FALLBACK = '''"""AWS Lambda entry point of the modelport gateway: ``lambda_function.lambda_handler``."""

from modelport.gateway.app import create_app
from modelport.gateway.aws_lambda import make_handler

app = create_app()
lambda_handler = make_handler(app)
'''


class ZipBuildError(RuntimeError):
    """The zip could not be built; the message says what was missing."""


@dataclass(frozen=True)
class LambdaZip:
    """A built deployment package."""

    data: bytes
    distributions: dict[str, str]  # name → version shipped
    from_wheels: tuple[str, ...]  # distributions taken from platform wheels

    @property
    def code_sha256(self) -> str:
        """What Lambda reports as CodeSha256 (base64 of the SHA-256 of the zip)."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def target_environment(architecture: str, python: str = PYTHON) -> dict[str, str]:
    """Environment markers of Lambda's Python (3.12) on ``architecture``."""
    env = default_environment()
    env.update({"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
                "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython",
                "platform_python_implementation": "CPython",
                "platform_machine": "x86_64" if architecture == "x86_64" else "aarch64"})
    return env


def dependency_closure(roots: tuple[str, ...], architecture: str, python: str = PYTHON) -> dict[str, metadata.Distribution]:
    """The installed distributions ``roots`` need on the target (markers evaluated for it), by name."""
    env = target_environment(architecture, python)
    found: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = _canonical(todo.pop())
        if name in found or name in RUNTIME_PROVIDED:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise ZipBuildError(f"{name} is needed by the gateway but not installed here") from exc
        found[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({**env, "extra": ""}):
                todo.append(requirement.name)
    return found


def is_pure(dist: metadata.Distribution) -> bool:
    """Whether the distribution has no compiled code (Root-Is-Purelib and no extension modules)."""
    wheel = dist.read_text("WHEEL") or ""
    if "root-is-purelib: true" not in wheel.lower():
        return False
    return not any(str(f).endswith((".so", ".pyd", ".dylib")) for f in dist.files or [])


def _installed_files(dist: metadata.Distribution) -> dict[str, bytes]:
    files = {}
    for entry in dist.files or []:
        path = str(entry)
        if path.startswith("..") or path.endswith(".pyc") or _SKIP_PARTS & set(Path(path).parts):
            continue
        located = Path(dist.locate_file(entry))
        if located.is_file():
            files[path] = located.read_bytes()
    return files


def platform_wheel(name: str, version: str, architecture: str, cache: Path, python: str = PYTHON) -> Path:
    """The CPython (3.12) manylinux wheel of name==version for ``architecture`` (pip download, cached)."""
    platform = PLATFORMS[architecture]
    abi = "cp" + python.replace(".", "")
    target = cache / f"{platform}-{abi}"
    target.mkdir(parents=True, exist_ok=True)
    prefix = name.replace("-", "_").lower() + "-" + version + "-"
    for existing in target.glob("*.whl"):
        if existing.name.lower().startswith(prefix):
            return existing
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--platform", platform, "--python-version", python, "--implementation", "cp",
               "--abi", abi, "--dest", str(target), f"{name}=={version}"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise ZipBuildError(f"could not get the {platform} CPython {python} wheel of {name}=={version} "
                            f"from PyPI (needed because it has compiled code):\n{done.stderr.strip()[-800:]}")
    for existing in target.glob("*.whl"):
        if existing.name.lower().startswith(prefix):
            return existing
    raise ZipBuildError(f"pip reported success but no wheel of {name}=={version} is in {target}")


def _wheel_files(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()
                if not info.is_dir() and ".data/scripts/" not in info.filename}


def _package_files() -> dict[str, bytes]:
    package = Path(modelport.__file__).resolve().parent
    files = {}
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if (path.is_file() and not (_SKIP_PARTS & set(path.parts)) and relative.parts[0] not in _NOT_FOR_LAMBDA
                and path.suffix in (".py", ".typed", ".json")):
            files["modelport/" + relative.as_posix()] = path.read_bytes()
    return files


def lambda_function_source() -> bytes:
    """The repository's ``lambda_function.py`` (or the same two lines when modelport is installed alone)."""
    repo_file = Path(modelport.__file__).resolve().parents[2] / "lambda_function.py"
    return repo_file.read_bytes() if repo_file.is_file() else LAMBDA_FUNCTION_FALLBACK.encode()


def build_lambda_zip(architecture: str, cache: Path, python: str = PYTHON) -> LambdaZip:
    """Build the deployment package for Lambda Python 3.12 on ``architecture`` (x86_64 or arm64).

    ``python`` exists for tests, which build the same package for this machine's Python to import it.
    """
    if architecture not in PLATFORMS:
        raise ZipBuildError(f"architecture {architecture!r}: use x86_64 or arm64")
    files: dict[str, bytes] = {"lambda_function.py": lambda_function_source(), **_package_files()}
    shipped, from_wheels = {}, []
    for name, dist in sorted(dependency_closure(GATEWAY_DISTRIBUTIONS, architecture, python).items()):
        if is_pure(dist):
            files.update(_installed_files(dist))
        else:
            files.update(_wheel_files(platform_wheel(name, dist.version, architecture, cache, python)))
            from_wheels.append(name)
        shipped[name] = dist.version
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path])
    return LambdaZip(buffer.getvalue(), shipped, tuple(from_wheels))


def main(argv: list[str] | None = None) -> int:
    """``python -m modelport.aws.lambda_zip OUT.zip [x86_64|arm64]``: write the zip (for SAM / CloudFormation)."""
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        print("usage: python -m modelport.aws.lambda_zip OUT.zip [x86_64|arm64]", file=sys.stderr)
        return 2
    from modelport.settings import get_settings

    package = build_lambda_zip(args[1] if len(args) > 1 else "x86_64", get_settings().home / "aws" / "wheels")
    Path(args[0]).write_bytes(package.data)
    print(f"{args[0]}: {len(package.data)} bytes, {len(package.distributions)} distributions, CodeSha256 {package.code_sha256}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
