"""The hosting registry: models, endpoint configs and endpoints in one SQLite file (WAL mode).

Rows keep the request documents as JSON, so Describe* answers with exactly what was created.
An endpoint row also keeps ``deployed``: a snapshot of the variants it serves (with each model's
container), so a restart can restore it even if its config or models were deleted meanwhile.

A database error (disk full, I/O error) is a :class:`RegistryError`: the control API answers it as
a 500 ``InternalFailure`` and nothing was stored. Background work (an endpoint reaching InService or
Failed) records its outcome with :meth:`Registry.settle_endpoint`, which never raises: a change
that cannot be written yet is kept in memory, shown by every read, and written by
:meth:`Registry.flush` once the disk allows. If hosting dies first, the row still says what was
in progress (Creating, Updating, Deleting) and the restore on the next start resolves it.
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
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, arn TEXT NOT NULL, created REAL NOT NULL, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoint_configs (
    name TEXT PRIMARY KEY, arn TEXT NOT NULL, created REAL NOT NULL, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY, arn TEXT NOT NULL, created REAL NOT NULL, modified REAL NOT NULL,
    config_name TEXT NOT NULL, status TEXT NOT NULL, failure_reason TEXT,
    deployed TEXT NOT NULL, pending_config TEXT);
CREATE TABLE IF NOT EXISTS tags (
    arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (arn, key));
"""

_DELETED = None  # a pending change that deletes the endpoint row

_ENDPOINT_FIELDS = ("config_name", "status", "failure_reason", "deployed", "pending_config", "deployment_config")
# columns added after the first release, with their SQL types (added to older databases on open)
_ADDED_COLUMNS = {"endpoints": {"deployment_config": "TEXT"}}


class Registry(Database):
    """Thread-safe access to the registry database at ``path``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        self._pending: dict[str, dict[str, Any] | None] = {}  # endpoint → settled fields not yet written
        for table, columns in _ADDED_COLUMNS.items():
            present = {r["name"] for r in self._db.execute(f"PRAGMA table_info({table})")}
            for column, kind in columns.items():
                if column not in present:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    # models and endpoint configs share one shape: name, arn, created, spec
    def add_document(self, table: str, name: str, arn: str, spec: dict[str, Any]) -> dict[str, Any] | None:
        """Insert a model or endpoint config; return the stored row, or None when the name exists."""
        created = time.time()
        try:
            self._run(f"INSERT INTO {_table(table)} (name, arn, created, spec) VALUES (?, ?, ?, ?)",
                      (name, arn, created, json.dumps(spec)))
        except sqlite3.IntegrityError:
            return None
        return {"name": name, "arn": arn, "created": created, "spec": spec}

    def get_document(self, table: str, name: str) -> dict[str, Any] | None:
        """One model or endpoint config by name, or None."""
        row = self._run(f"SELECT * FROM {_table(table)} WHERE name = ?", (name,)).fetchone()
        return _document(row) if row else None

    def list_documents(self, table: str) -> list[dict[str, Any]]:
        """Every model or endpoint config."""
        return [_document(r) for r in self._run(f"SELECT * FROM {_table(table)}").fetchall()]

    def delete_document(self, table: str, name: str) -> bool:
        """Delete a model or endpoint config; False when it did not exist."""
        return self._run(f"DELETE FROM {_table(table)} WHERE name = ?", (name,)).rowcount > 0

    # endpoints
    def add_endpoint(self, name: str, arn: str, config_name: str, status: str, deployed: list[dict],
                     deployment_config: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Insert an endpoint; None when the name exists."""
        now = time.time()
        try:
            self._run(
                "INSERT INTO endpoints (name, arn, created, modified, config_name, status, deployed, deployment_config) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, arn, now, now, config_name, status, json.dumps(deployed),
                 json.dumps(deployment_config) if deployment_config else None),
            )
        except sqlite3.IntegrityError:
            return None
        self._pending.pop(name, None)
        return self.get_endpoint(name)

    def get_endpoint(self, name: str) -> dict[str, Any] | None:
        """One endpoint by name, or None (changes not yet written included)."""
        row = self._run("SELECT * FROM endpoints WHERE name = ?", (name,)).fetchone()
        return self._with_pending(_endpoint(row)) if row else None

    def list_endpoints(self) -> list[dict[str, Any]]:
        """Every endpoint (changes not yet written included)."""
        rows = [self._with_pending(_endpoint(r)) for r in self._run("SELECT * FROM endpoints").fetchall()]
        return [r for r in rows if r is not None]

    def _with_pending(self, row: dict[str, Any]) -> dict[str, Any] | None:
        if row["name"] not in self._pending:
            return row
        fields = self._pending[row["name"]]
        return None if fields is _DELETED else {**row, **fields}

    def update_endpoint(self, name: str, **fields: Any) -> None:
        """Change some of: config_name, status, failure_reason, deployed, pending_config, deployment_config."""
        unknown = set(fields) - set(_ENDPOINT_FIELDS)
        if unknown:
            raise ValueError(f"unknown endpoint fields {sorted(unknown)}; accepted: {_ENDPOINT_FIELDS}")
        stored = dict(fields)
        for key in ("deployed", "deployment_config"):
            if key in stored and stored[key] is not None:
                stored[key] = json.dumps(stored[key])
        sets = ", ".join(f"{k} = ?" for k in stored)
        self._run(f"UPDATE endpoints SET {sets}, modified = ? WHERE name = ?", (*stored.values(), time.time(), name))
        pending = self._pending.get(name)
        if pending:  # what was just written supersedes what was waiting
            for key in fields:
                pending.pop(key, None)
            if not pending:
                del self._pending[name]

    def delete_endpoint(self, name: str) -> bool:
        """Delete an endpoint row; False when it did not exist."""
        deleted = self._run("DELETE FROM endpoints WHERE name = ?", (name,)).rowcount > 0
        self._pending.pop(name, None)
        return deleted

    # outcomes of background work: never raise
    def settle_endpoint(self, name: str, **fields: Any) -> bool:
        """Record an outcome of background work; False when it could not be written yet (it is kept,
        shown by reads, and written by :meth:`flush`)."""
        waiting = self._pending.get(name)
        if name in self._pending and waiting is _DELETED:
            return False
        merged = {**(waiting or {}), **fields}
        try:
            self.update_endpoint(name, **merged)
        except RegistryError as exc:
            log.error("endpoint %s: %s (kept in memory, written when possible)", name, exc.message)
            self._pending[name] = merged
            return False
        return True

    def settle_deletion(self, name: str) -> bool:
        """Delete an endpoint row as the end of background work; False when it could not be done yet."""
        try:
            self.delete_endpoint(name)
        except RegistryError as exc:
            log.error("endpoint %s: %s (its deletion is retried when possible)", name, exc.message)
            self._pending[name] = _DELETED
            return False
        return True

    def flush(self) -> bool:
        """Write the outcomes that could not be written before; True when none is left."""
        for name, fields in list(self._pending.items()):
            if fields is _DELETED:
                self.settle_deletion(name)
            else:
                del self._pending[name]
                self.settle_endpoint(name, **fields)
        return not self._pending


    # tags, by resource ARN
    def set_tags(self, arn: str, tags: list[dict[str, str]]) -> None:
        """Add or overwrite tags (``[{"Key", "Value"}]``) on a resource."""
        self._run_many("INSERT OR REPLACE INTO tags (arn, key, value) VALUES (?, ?, ?)",
                       [(arn, t["Key"], t.get("Value", "")) for t in tags])

    def get_tags(self, arn: str) -> list[dict[str, str]]:
        """A resource's tags, sorted by key."""
        rows = self._run("SELECT key, value FROM tags WHERE arn = ? ORDER BY key", (arn,)).fetchall()
        return [{"Key": r["key"], "Value": r["value"]} for r in rows]

    def delete_tags(self, arn: str, keys: list[str] | None = None) -> None:
        """Remove some (or, with ``keys`` None, all) tags of a resource."""
        if keys is None:
            self._run("DELETE FROM tags WHERE arn = ?", (arn,))
            return
        self._run_many("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, k) for k in keys])


def _table(kind: str) -> str:
    if kind not in ("models", "endpoint_configs"):
        raise ValueError(f"unknown registry table {kind!r}; accepted: models, endpoint_configs")
    return kind


def _document(row: sqlite3.Row) -> dict[str, Any]:
    return {"name": row["name"], "arn": row["arn"], "created": row["created"], "spec": json.loads(row["spec"])}


def _endpoint(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "name": row["name"],
        "arn": row["arn"],
        "created": row["created"],
        "modified": row["modified"],
        "config_name": row["config_name"],
        "status": row["status"],
        "failure_reason": row["failure_reason"],
        "deployed": json.loads(row["deployed"]),
        "pending_config": row["pending_config"],
        "deployment_config": json.loads(row["deployment_config"]) if row["deployment_config"] else None,
    }
