"""Assemble a bundled model's code/ folder and pack its artifacts into a SageMaker-layout model.tar.gz.

A model's deployable source is `bundled_models/NAME/code/` in this package, plus the shared modules it
names from `bundled_models/shared/` (written once, copied into each archive). `code/requirements.txt` is rewritten
with the versions installed here, i.e. the versions the model was trained with.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, TextColumn

from modelport.progress import progress

SHARED_MODULES: dict[str, tuple[str, ...]] = {
    "mnist-sklearn": ("handler_utils.py", "mnist_io.py", "mnist_preprocessing.py", "npy_body.py"),
    "mnist-pytorch": ("handler_utils.py", "mnist_io.py", "mnist_preprocessing.py", "npy_body.py"),
    "sentiment": ("handler_utils.py",),
}


def models_root() -> Path:
    """The bundled models' deployable source (``modelport/bundled_models``: NAME/code, shared)."""
    from modelport.bundled_models import source_root

    root = source_root()
    if not (root / "shared").is_dir():
        raise FileNotFoundError(
            f"{root} does not hold the bundled models' source (NAME/code, shared): this modelport "
            "installation is incomplete; reinstall it (pip install --force-reinstall modelport)"
        )
    return root


def installed_version(distribution: str) -> str:
    """The installed version of a distribution, without a local label (torch 2.13.0+cpu → 2.13.0)."""
    return metadata.version(distribution).split("+")[0]


def pinned_requirements(template: Path) -> str:
    """`template` (a requirements.txt) with every `name==version` line re-pinned to the installed version."""
    lines = []
    for line in template.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==", line)
        lines.append(f"{match.group(1)}=={installed_version(match.group(1))}" if match else line)
    return "\n".join(lines) + "\n"


def assemble_code(name: str, destination: Path) -> Path:
    """Write model `name`'s complete code/ folder (inference.py, shared modules, requirements) to `destination`."""
    root = models_root()
    source = root / name / "code"
    if not (source / "inference.py").is_file():
        raise FileNotFoundError(f"{source}/inference.py is missing; known models: {', '.join(SHARED_MODULES)}")
    destination.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and path.suffix in (".py", ".txt"):
            shutil.copy2(path, destination / path.name)
    for module in SHARED_MODULES.get(name, ()):
        shutil.copy2(root / "shared" / module, destination / module)
    requirements = source / "requirements.txt"
    if requirements.is_file():
        (destination / "requirements.txt").write_text(pinned_requirements(requirements))
    return destination


def package(name: str, artifacts: Path, output: Path, *, quiet: bool = False) -> Path:
    """Pack `artifacts` (model files) with model `name`'s code/ into `output` (a model.tar.gz)."""
    from modelport.archive.pack import pack_archive

    with tempfile.TemporaryDirectory(prefix=f"modelport-code-{name}-") as scratch:
        code = assemble_code(name, Path(scratch) / "code")
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
        with progress(f"packing {output.name}", unit="bytes", columns=columns, quiet=quiet) as tracker:
            return pack_archive(artifacts, output, code=code,
                                progress=lambda done, total: tracker.update(completed=done, total=total))
