"""hosting's SQLite database (``MODELPORT_HOME/hosting/registry.db``), opened one way for every table owner.

WAL journal, ``synchronous=NORMAL``, autocommit, rows by column name, one lock per connection. A database
error (disk full, I/O error) becomes a :class:`RegistryError`: to a control-plane client a 500
``InternalFailure`` that names the cause; an ``IntegrityError`` (a name taken) is left to the caller.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from modelport.hosting.errors import ControlError

BUSY_TIMEOUT_S = 10.0  # how long a write waits for another connection's (the registry's, a job store's)


class RegistryError(ControlError):
    """The registry database could not be read or written; to a control-plane client a 500
    ``InternalFailure`` that names the cause (nothing it asked for was stored)."""

    def __init__(self, path: Path, exc: sqlite3.Error) -> None:
        super().__init__("InternalFailure", f"modelport hosting could not use its registry {path}: {exc}. Free "
                                            f"disk space under MODELPORT_HOME (or fix the I/O error) and retry.", 500)


class Database:
    """A connection to the database at ``path`` with ``schema`` applied, used by one thread at a time."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                                   timeout=BUSY_TIMEOUT_S)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(schema)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._db.execute(sql, args)
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:
                raise RegistryError(self.path, exc) from exc

    def _run_many(self, sql: str, rows: list[tuple]) -> None:
        with self._lock:
            try:
                self._db.executemany(sql, rows)
            except sqlite3.Error as exc:
                raise RegistryError(self.path, exc) from exc
