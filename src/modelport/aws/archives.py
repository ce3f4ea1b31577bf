"""What the deploy needs to know about a `model.tar.gz`: digest, framework and library version."""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from modelport.aws.images import FRAMEWORKS
from modelport.checksum import sha256_of

_PIN = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([A-Za-z0-9_.+!-]+)")


@dataclass(frozen=True)
class ArchiveInfo:
    """Facts read from an archive (and the metrics.json beside it, when there is one)."""

    path: Path
    sha256: str
    framework: str
    library_version: str | None
    pinned: bool


def _read_member(tar: tarfile.TarFile, names: set[str], wanted: str) -> str | None:
    for candidate in (wanted, "./" + wanted):
        if candidate in names:
            member = tar.extractfile(candidate)
            return member.read().decode("utf-8", "replace") if member else None
    return None


def requirement_pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a requirements file, names lower-cased with '_' as '-'."""
    pins = {}
    for line in text.splitlines():
        match = _PIN.match(line.split("#", 1)[0])
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def inspect_archive(path: Path, framework: str = "") -> ArchiveInfo:
    """Digest, framework (given, or detected from pins / metrics / artifact files) and library version."""
    if not path.is_file():
        raise FileNotFoundError(f"archive {path} does not exist (train or pack it first, or fix the path)")
    with tarfile.open(path, "r:gz") as tar:
        names = set(tar.getnames())
        requirements = _read_member(tar, names, "code/requirements.txt") or ""
        metrics_text = _read_member(tar, names, "metrics.json")
    if metrics_text is None and (path.parent / "metrics.json").is_file():
        metrics_text = (path.parent / "metrics.json").read_text()
    versions = {}
    if metrics_text:
        try:
            versions = {k.lower(): str(v) for k, v in (json.loads(metrics_text).get("versions") or {}).items()}
        except (ValueError, AttributeError):
            versions = {}
    pins = requirement_pins(requirements)
    if not framework:
        framework = _detect(pins, versions, names, path)
    library = FRAMEWORKS[framework][3]
    pinned_version = pins.get(library)
    return ArchiveInfo(path, sha256_of(path), framework, pinned_version or versions.get(library), bool(pinned_version))


def _detect(pins: dict[str, str], versions: dict[str, str], names: set[str], path: Path) -> str:
    plain = {n.removeprefix("./") for n in names}
    if "torch" in pins or any(n.endswith((".pt", ".pth")) for n in plain):
        return "pytorch"
    if "scikit-learn" in pins or any(n.endswith((".joblib", ".pkl")) for n in plain):
        return "sklearn"
    if "torch" in versions:
        return "pytorch"
    if "scikit-learn" in versions:
        return "sklearn"
    raise ValueError(f"cannot tell the framework of {path}: no torch / scikit-learn pin in code/requirements.txt, "
                     "no .pt/.pth/.joblib/.pkl artifact; set `framework = \"sklearn\"` or \"pytorch\" for this model")
