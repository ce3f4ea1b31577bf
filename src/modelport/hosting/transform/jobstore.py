"""Transform jobs in hosting's registry database (``MODELPORT_HOME/hosting/registry.db``, table
``transform_jobs``), through a connection of their own: the request as created, status, failure reason
and times.

A status change that cannot be written (disk full, I/O error) is kept in memory, shown by every read and
written with the next change that succeeds, as the endpoints' outcomes are (:mod:`..registry`); hosting
never leaves a job InProgress after a restart (:meth:`TransformJobStore.interrupted`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from modelport.hosting.database import Database, RegistryError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transform_jobs (
    name TEXT PRIMARY KEY, arn TEXT NOT NULL, created REAL NOT NULL, modified REAL NOT NULL,
    status TEXT NOT NULL, failure_reason TEXT, started REAL, ended REAL, spec TEXT NOT NULL);
"""
_FIELDS = ("status", "failure_reason", "started", "ended")


class TransformJobStore(Database):
    """Thread-safe rows of the ``transform_jobs`` table."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        self._pending: dict[str, dict[str, Any]] = {}

    def add(self, name: str, arn: str, status: str, spec: dict[str, Any]) -> dict[str, Any] | None:
        """Insert a job; None when the name is taken."""
        now = time.time()
        try:
            self._run("INSERT INTO transform_jobs (name, arn, created, modified, status, spec) VALUES (?, ?, ?, ?, ?, ?)",
                      (name, arn, now, now, status, json.dumps(spec)))
        except sqlite3.IntegrityError:
            return None
        return self.get(name)

    def get(self, name: str) -> dict[str, Any] | None:
        """One job by name, or None."""
        row = self._run("SELECT * FROM transform_jobs WHERE name = ?", (name,)).fetchone()
        return self._row(row) if row else None

    def list(self) -> list[dict[str, Any]]:
        """Every job."""
        return [self._row(r) for r in self._run("SELECT * FROM transform_jobs").fetchall()]

    def _row(self, row: sqlite3.Row) -> dict[str, Any]:
        out = {key: row[key] for key in row.keys()}
        out["spec"] = json.loads(out["spec"])
        out.update(self._pending.get(out["name"], {}))
        return out

    def settle(self, name: str, **fields: Any) -> None:
        """Record a change of status (never raises: a change that cannot be written yet is kept)."""
        unknown = set(fields) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown transform job fields {sorted(unknown)}; accepted: {_FIELDS}")
        merged = {**self._pending.pop(name, {}), **fields}
        sets = ", ".join(f"{k} = ?" for k in merged)
        try:
            self._run(f"UPDATE transform_jobs SET {sets}, modified = ? WHERE name = ?",
                      (*merged.values(), time.time(), name))
        except RegistryError as exc:
            log.error("transform job %s: %s (kept in memory, written with its next change)", name, exc.message)
            self._pending[name] = merged

    def interrupted(self, reason: str) -> list[str]:
        """After a restart: jobs InProgress become Failed with ``reason``, jobs Stopping become Stopped."""
        names = []
        now = time.time()
        for job in self.list():
            if job["status"] == "InProgress":
                self.settle(job["name"], status="Failed", failure_reason=reason, ended=now)
                names.append(job["name"])
            elif job["status"] == "Stopping":
                self.settle(job["name"], status="Stopped", ended=now)
                names.append(job["name"])
        return names
