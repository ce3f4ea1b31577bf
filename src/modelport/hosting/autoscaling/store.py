"""Scalable targets, scaling policies and scaling activities in hosting's registry database
(``MODELPORT_HOME/hosting/registry.db``: tables ``scalable_targets``, ``scaling_policies``,
``scaling_activities``), through a connection of their own; they survive restarts as the endpoints do."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from modelport.hosting.database import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scalable_targets (
    namespace TEXT NOT NULL, resource_id TEXT NOT NULL, dimension TEXT NOT NULL,
    min_capacity INTEGER NOT NULL, max_capacity INTEGER NOT NULL, role_arn TEXT NOT NULL, arn TEXT NOT NULL,
    created REAL NOT NULL, suspended TEXT NOT NULL,
    PRIMARY KEY (namespace, resource_id, dimension));
CREATE TABLE IF NOT EXISTS scaling_policies (
    namespace TEXT NOT NULL, resource_id TEXT NOT NULL, dimension TEXT NOT NULL, name TEXT NOT NULL,
    arn TEXT NOT NULL, type TEXT NOT NULL, config TEXT NOT NULL, alarms TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (namespace, resource_id, dimension, name));
CREATE TABLE IF NOT EXISTS scaling_activities (
    id TEXT PRIMARY KEY, namespace TEXT NOT NULL, resource_id TEXT NOT NULL, dimension TEXT NOT NULL,
    description TEXT NOT NULL, cause TEXT NOT NULL, started REAL NOT NULL, ended REAL,
    status TEXT NOT NULL, message TEXT);
"""
KEEP_ACTIVITIES = 1000  # per scalable target; older ones are dropped (AWS keeps six weeks)


class ScalingStore(Database):
    """Thread-safe rows of the three autoscaling tables."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    # targets
    def put_target(self, key: tuple[str, str, str], min_capacity: int, max_capacity: int, role_arn: str, arn: str,
                   suspended: dict[str, bool]) -> None:
        """Register a scalable target, or change an existing one (its ARN and creation time stay)."""
        old = self.target(key)
        self._run("INSERT OR REPLACE INTO scalable_targets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (*key, min_capacity, max_capacity, role_arn, old["arn"] if old else arn,
                   old["created"] if old else time.time(), json.dumps(suspended)))

    def target(self, key: tuple[str, str, str]) -> dict[str, Any] | None:
        """One scalable target by (namespace, resource id, dimension), or None."""
        row = self._run("SELECT * FROM scalable_targets WHERE namespace = ? AND resource_id = ? AND dimension = ?",
                        key).fetchone()
        return _target(row) if row else None

    def targets(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every scalable target (of ``namespace``), oldest first."""
        rows = self._run("SELECT * FROM scalable_targets ORDER BY created").fetchall()
        return [t for t in map(_target, rows) if namespace is None or t["namespace"] == namespace]

    def delete_target(self, key: tuple[str, str, str]) -> bool:
        """Deregister a target and delete its policies; False when it was not registered."""
        where = "WHERE namespace = ? AND resource_id = ? AND dimension = ?"
        self._run(f"DELETE FROM scaling_policies {where}", key)
        return self._run(f"DELETE FROM scalable_targets {where}", key).rowcount > 0

    # policies
    def put_policy(self, key: tuple[str, str, str], name: str, arn: str, kind: str, config: dict[str, Any],
                   alarms: list[dict[str, str]]) -> dict[str, Any]:
        """Create or replace a scaling policy (a replaced one keeps its ARN, alarms and creation time)."""
        old = self.policy(key, name)
        if old:
            arn, alarms = old["arn"], old["alarms"]
        self._run("INSERT OR REPLACE INTO scaling_policies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (*key, name, arn, kind, json.dumps(config), json.dumps(alarms),
                   old["created"] if old else time.time()))
        return self.policy(key, name)

    def policy(self, key: tuple[str, str, str], name: str) -> dict[str, Any] | None:
        """One policy, or None."""
        row = self._run("SELECT * FROM scaling_policies WHERE namespace = ? AND resource_id = ? AND dimension = ? "
                        "AND name = ?", (*key, name)).fetchone()
        return _policy(row) if row else None

    def policies(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every policy (of ``namespace``), oldest first."""
        rows = self._run("SELECT * FROM scaling_policies ORDER BY created").fetchall()
        return [p for p in map(_policy, rows) if namespace is None or p["namespace"] == namespace]

    def delete_policy(self, key: tuple[str, str, str], name: str) -> bool:
        """Delete a policy; False when there was none."""
        return self._run("DELETE FROM scaling_policies WHERE namespace = ? AND resource_id = ? AND dimension = ? "
                         "AND name = ?", (*key, name)).rowcount > 0

    # activities
    def add_activity(self, activity_id: str, key: tuple[str, str, str], description: str, cause: str) -> None:
        """Record a scaling activity that begins now (InProgress); keep at most KEEP_ACTIVITIES per target."""
        self._run("INSERT INTO scaling_activities (id, namespace, resource_id, dimension, description, cause, "
                  "started, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'InProgress')",
                  (activity_id, *key, description, cause, time.time()))
        self._run("DELETE FROM scaling_activities WHERE namespace = ? AND resource_id = ? AND dimension = ? AND id "
                  "NOT IN (SELECT id FROM scaling_activities WHERE namespace = ? AND resource_id = ? AND dimension = ? "
                  "ORDER BY started DESC LIMIT ?)", (*key, *key, KEEP_ACTIVITIES))

    def end_activity(self, activity_id: str, status: str, message: str) -> None:
        """An activity ended (Successful, Failed)."""
        self._run("UPDATE scaling_activities SET status = ?, message = ?, ended = ? WHERE id = ?",
                  (status, message, time.time(), activity_id))

    def interrupted(self) -> None:
        """Activities a previous run left InProgress end Failed (called at start)."""
        self._run("UPDATE scaling_activities SET status = 'Failed', ended = ?, message = 'modelport hosting stopped "
                  "while this activity ran.' WHERE status = 'InProgress'", (time.time(),))

    def activities(self, namespace: str) -> list[dict[str, Any]]:
        """The activities of ``namespace``, newest first."""
        rows = self._run("SELECT * FROM scaling_activities WHERE namespace = ? ORDER BY started DESC",
                         (namespace,)).fetchall()
        return [dict(r) for r in rows]


def _target(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["suspended"] = json.loads(out["suspended"])
    return out


def _policy(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["config"] = json.loads(out["config"])
    out["alarms"] = json.loads(out["alarms"])
    return out
