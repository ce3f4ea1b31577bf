"""The wheel's build step: copy the built web page (``page/dist``) into the package as ``modelport/webpage``.

Everything else about the package is declared in pyproject.toml. The page is built by npm (``make
page-build``, which ``make run``, ``make test`` and ``make wheel`` run first), not here, so that building
a wheel needs no Node.js. A wheel without the page would install a modelport whose ``up`` serves no page,
so building one fails, saying what to run, when ``page/dist`` is missing or older than the page's sources.
Editable installs (``pip install -e .``, as ``make install`` does) copy nothing: a checkout serves its
``page/dist`` directly (``modelport.resources.page_dir``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PAGE = ROOT / "page"
DIST = PAGE / "dist"
# what the page is built from; absent from an sdist, which carries page/dist only
PAGE_SOURCES = ("src", "public", "index.html", "package.json", "package-lock.json", "vite.config.js")
BUILD_IT = "build it first: `make page-build` (or `npm --prefix page ci && npm --prefix page run build`)"


class PageMissing(SystemExit):
    """The built page is missing or stale; the message says what to run."""


def newest_source() -> tuple[float, Path | None]:
    """The most recently changed file the page is built from (mtime, path); (0, None) without sources."""
    newest: tuple[float, Path | None] = (0.0, None)
    for name in PAGE_SOURCES:
        path = PAGE / name
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path] if path.is_file() else []
        for file in files:
            newest = max(newest, (file.stat().st_mtime, file), key=lambda item: item[0])
    return newest


def check_page() -> None:
    """Refuse to build a wheel without a current ``page/dist``."""
    index = DIST / "index.html"
    if not index.is_file():
        raise PageMissing(f"error: the wheel carries the web page, but {index} does not exist; {BUILD_IT}")
    changed, source = newest_source()
    if source is not None and changed > index.stat().st_mtime:
        raise PageMissing(f"error: page/dist is older than {source.relative_to(ROOT)}, so the wheel would carry "
                          f"a stale page; {BUILD_IT}")


class BuildPyWithPage(build_py):
    """setuptools' build_py, plus the built page copied to ``modelport/webpage`` in the build."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        check_page()
        target = Path(self.build_lib) / "modelport" / "webpage"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(DIST, target)


setup(cmdclass={"build_py": BuildPyWithPage})
