"""The bundled models' deployable source, shipped inside the package (so a wheel carries it too).

Each model has ``NAME/code/`` (``inference.py``, its helpers, ``requirements.txt``); ``shared/`` holds
modules several models use, copied into each archive's ``code/`` at pack time. None of these files
imports modelport: they run inside a model server, where only the archive's ``code/`` is on the path.
"""

from __future__ import annotations

from pathlib import Path


def source_root() -> Path:
    """The folder holding ``NAME/code/`` of every bundled model and ``shared/``."""
    return Path(__file__).resolve().parent
