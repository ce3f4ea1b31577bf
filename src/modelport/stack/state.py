"""The running stack's record (``MODELPORT_HOME/stack.json``), for ``status`` and ``down``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def state_file(home: Path) -> Path:
    """Where the record lives."""
    return home / "stack.json"


def write(home: Path, record: dict[str, Any]) -> None:
    """Write the record atomically."""
    path = state_file(home)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, indent=2))
    temporary.replace(path)


def read(home: Path) -> dict[str, Any] | None:
    """The record of a stack whose process is still alive, else None (a stale record is removed)."""
    path = state_file(home)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not pid_alive(int(record.get("pid", 0))):
        path.unlink(missing_ok=True)
        return None
    return record


def clear(home: Path, pid: int) -> None:
    """Remove the record if it is this process's."""
    path = state_file(home)
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True
