"""Where the built web page is, for every part that serves or publishes it (gateway, ``up``, ``aws``).

An installed wheel carries the page inside the package, ``modelport/webpage/`` (``setup.py`` copies
``page/dist`` there when the wheel is built, and refuses to build a wheel without it). A checkout
(``pip install -e .``) has no such copy: it serves the repository's ``page/dist``, which ``make`` builds
with npm. The bundled models' source is found by ``modelport.bundled_models.source_root()``.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SHIPPED_PAGE = PACKAGE / "webpage"
CHECKOUT_ROOT = PACKAGE.parents[1]  # <checkout>/src/modelport → <checkout>


def running_from_checkout() -> bool:
    """Whether this modelport is imported from a source checkout (``src/modelport`` beside pyproject.toml)."""
    return PACKAGE.parent.name == "src" and (CHECKOUT_ROOT / "pyproject.toml").is_file()


def page_dir() -> Path:
    """The built page this installation serves: the wheel's copy, else the checkout's ``page/dist``.

    The path is returned even when nothing is built there yet, so messages can name it; callers check
    for ``index.html``.
    """
    if (SHIPPED_PAGE / "index.html").is_file() or not running_from_checkout():
        return SHIPPED_PAGE
    return CHECKOUT_ROOT / "page" / "dist"
