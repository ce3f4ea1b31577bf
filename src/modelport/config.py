"""Where modelport keeps its state: the one home of the ``MODELPORT_HOME`` decision.

``MODELPORT_HOME`` (all local state) defaults to ``.modelport`` at the root of the modelport checkout the
current directory lies in, and to ``~/.modelport`` everywhere else (``default_home``). "In a checkout"
means: the nearest ``pyproject.toml`` at or above the current directory names the project ``modelport``.
So ``make run`` in a clone keeps its state beside the code, as before, and an installed ``modelport up``
in any other folder keeps one home per user instead of scattering ``.modelport`` folders.

Every settings class with a ``home`` takes it from here (``modelport.settings.HomeSetting``); the
settings themselves live in ``modelport.settings``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

HOME_ENV = "MODELPORT_HOME"
HOME_HELP = ("MODELPORT_HOME holds all local state; default: ./.modelport at the root of a modelport "
             "checkout, ~/.modelport anywhere else.")


def find_checkout(start: Path) -> Path | None:
    """The modelport checkout ``start`` lies in: the folder of the nearest ``pyproject.toml`` at or above
    ``start``, when that file names the project ``modelport``; None otherwise."""
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            name = tomllib.loads(pyproject.read_text()).get("project", {}).get("name")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        return folder if name == "modelport" else None
    return None


def default_home() -> Path:
    """MODELPORT_HOME when the variable is not set: ``<checkout>/.modelport`` inside a modelport
    checkout, else ``~/.modelport``."""
    try:
        checkout = find_checkout(Path.cwd())
    except OSError:  # the current directory was removed
        checkout = None
    return checkout / ".modelport" if checkout is not None else Path.home() / ".modelport"


def home_in(environ: Mapping[str, str]) -> Path:
    """MODELPORT_HOME as ``environ`` (a mapping handed over instead of the process environment, as
    ``modelport aws``'s settings take one) sets it, else :func:`default_home`."""
    value = environ.get(HOME_ENV)
    return Path(value) if value else default_home()


def get_settings():
    """``modelport.settings.get_settings()``, kept here because notebooks and user code import it from here."""
    from modelport.settings import get_settings as read

    return read()
