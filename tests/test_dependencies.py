"""pyproject.toml declares what modelport imports: every third-party import of the package is a declared
dependency (module-level imports outside the training parts are core dependencies, so a plain
``pip install modelport`` can serve, pack, check, host and run the gateway), and every core dependency is
imported somewhere. The bundled models' code is not modelport's: each lists its own in code/requirements.txt."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "modelport"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# parts that need the [ml] extra at import time (training the bundled models)
TRAINING_PARTS = ("training", "chatmodel")
# the runtime's stand-ins for SageMaker's toolkits: modelport's own modules, put on sys.path for user code
SHIMS = {p.name for p in (PACKAGE / "runtime" / "shims").iterdir() if p.is_dir()}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0))


CORE = {requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
EXTRAS = {extra: {requirement_name(r) for r in reqs} for extra, reqs in PYPROJECT["project"]["optional-dependencies"].items()}


def imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level?) for every absolute import in `path`."""
    tree = ast.parse(path.read_text())
    module_level = set()
    for node in tree.body:
        for inner in ast.walk(node) if isinstance(node, (ast.If, ast.Try, ast.Import, ast.ImportFrom)) else ():
            module_level.add(id(inner))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        found += [(name.split(".")[0], id(node) in module_level) for name in names]
    return found


def third_party_imports() -> dict[str, list[tuple[Path, bool]]]:
    """Top-level module → where it is imported (file, at module level?), for the package's own code."""
    found: dict[str, list[tuple[Path, bool]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "bundled_models":
            continue
        for top, at_module_level in imports(path):
            if top in sys.stdlib_module_names or top in ("modelport", "__future__") or top in SHIMS:
                continue
            found.setdefault(top, []).append((relative, at_module_level))
    return found


def distributions(top: str) -> set[str]:
    names = metadata.packages_distributions().get(top)
    assert names, f"`import {top}` (modelport) is not provided by any installed distribution"
    return {canonical(n) for n in names}


def test_every_import_is_a_declared_dependency():
    declared = CORE.union(*EXTRAS.values())
    undeclared = {}
    for top, where in third_party_imports().items():
        if not distributions(top) & declared:
            undeclared[top] = sorted({str(p) for p, _ in where})
    assert undeclared == {}, f"imported but not declared in pyproject.toml: {undeclared}"


def test_module_level_imports_outside_training_are_core_dependencies():
    needs_core = {}
    for top, where in third_party_imports().items():
        files = sorted({str(p) for p, at_module_level in where if at_module_level and p.parts[0] not in TRAINING_PARTS})
        if files and not distributions(top) & CORE:
            needs_core[top] = files
    assert needs_core == {}, f"imported when the module loads, but only an optional dependency: {needs_core}"


def test_every_core_dependency_is_imported():
    imported = set().union(*(distributions(top) for top in third_party_imports()))
    assert CORE - imported == set(), "declared core dependencies that modelport never imports"


def test_the_framework_extras_hold_what_sagemakers_images_carry():
    # docs/frameworks.md lists the images' libraries; pandas was the one scripts missed most
    assert {"scikit-learn", "joblib", "pandas"} <= EXTRAS["sklearn"]
    assert {"torch", "pillow", "pandas", "scikit-learn", "requests", "tqdm", "pyyaml"} <= EXTRAS["pytorch"]
    assert {"numpy", "scipy"} <= CORE
    for extra in ("ml", "pytorch"):
        assert "torch==2.13.0" in PYPROJECT["project"]["optional-dependencies"][extra]  # never an unpinned torch
    lock = {requirement_name(line): line for line in (ROOT / "requirements.lock").read_text().split()}
    missing = sorted(name for name in EXTRAS["sklearn"] | EXTRAS["pytorch"] | EXTRAS["ml"] if name not in lock)
    assert missing == [], f"extras not pinned in requirements.lock (what make installs): {missing}"
