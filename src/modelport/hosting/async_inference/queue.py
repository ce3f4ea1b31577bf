"""The durable queue of asynchronous requests: table ``async_requests`` in hosting's registry database
(``MODELPORT_HOME/hosting/registry.db``), through a connection of its own.

A request is inserted (``queued``) before InvokeEndpointAsync answers 202, so an acknowledged request survives
kill -9. A worker claims one (``running``, ``owner`` = this hosting run, ``attempts`` + 1) in one statement; once its
result object is in place the row becomes ``notifying`` and, after the notification (if any) was posted, it is
deleted. At start, :meth:`AsyncQueue.recover` puts rows another run left ``running`` back in the queue (hosting's
home lock makes that run dead), so each is run again; the worker then first looks for a result that run
already put in place (:mod:`.worker`), so a request is answered exactly once. Rows left ``notifying`` are notified
again (notifications are at least once, as SNS's).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.hosting.database import Database

QUEUED, RUNNING, NOTIFYING = "queued", "running", "notifying"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS async_requests (
    id TEXT PRIMARY KEY, endpoint TEXT NOT NULL, inference_id TEXT NOT NULL, input_location TEXT,
    body BLOB, output_location TEXT NOT NULL, failure_location TEXT NOT NULL, headers TEXT NOT NULL,
    received REAL NOT NULL, expires REAL NOT NULL, timeout REAL NOT NULL, state TEXT NOT NULL,
    owner TEXT, attempts INTEGER NOT NULL DEFAULT 0, notice TEXT);
CREATE INDEX IF NOT EXISTS async_requests_queue ON async_requests (endpoint, state, received);
"""


@dataclass(frozen=True)
class AsyncRequest:
    """One accepted request, as stored."""

    id: str
    endpoint: str
    inference_id: str
    input_location: str | None  # None: the payload is ``body`` (InvokeEndpointAsync's inline Body)
    body: bytes | None
    output_location: str
    failure_location: str
    headers: list[tuple[str, str]]  # what the instance is sent (Content-Type, Accept, custom attributes, id)
    received: float
    expires: float
    timeout: float
    attempts: int = 0

    @classmethod
    def _of(cls, row: Any) -> "AsyncRequest":
        return cls(row["id"], row["endpoint"], row["inference_id"], row["input_location"], row["body"],
                   row["output_location"], row["failure_location"], [tuple(h) for h in json.loads(row["headers"])],
                   row["received"], row["expires"], row["timeout"], row["attempts"])


@dataclass(frozen=True)
class Backlog:
    """An endpoint's requests queued or running, and when the oldest arrived."""

    size: int
    oldest: float


class AsyncQueue(Database):
    """Thread-safe access to the ``async_requests`` table."""

    def __init__(self, path: Path, owner: str) -> None:
        super().__init__(path, _SCHEMA)
        self.owner = owner

    def add(self, request: AsyncRequest) -> None:
        """Store an accepted request (before it is acknowledged)."""
        self._run("INSERT INTO async_requests (id, endpoint, inference_id, input_location, body, output_location, "
                  "failure_location, headers, received, expires, timeout, state) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (request.id, request.endpoint, request.inference_id, request.input_location, request.body,
                   request.output_location, request.failure_location, json.dumps(request.headers),
                   request.received, request.expires, request.timeout, QUEUED))

    def recover(self) -> int:
        """Put back in the queue what a previous run left running; how many."""
        return self._run("UPDATE async_requests SET state = ?, owner = NULL WHERE state = ? AND "
                         "(owner IS NULL OR owner != ?)", (QUEUED, RUNNING, self.owner)).rowcount

    def claim(self, endpoint: str) -> AsyncRequest | None:
        """The oldest queued request of ``endpoint``, now running for this run; None when none waits."""
        row = self._run(
            "UPDATE async_requests SET state = ?, owner = ?, attempts = attempts + 1 WHERE id = ("
            "SELECT id FROM async_requests WHERE endpoint = ? AND state = ? ORDER BY received, rowid LIMIT 1) "
            "RETURNING *", (RUNNING, self.owner, endpoint, QUEUED)).fetchone()
        return AsyncRequest._of(row) if row is not None else None

    def claim_expired(self, at: float) -> list[AsyncRequest]:
        """Queued requests whose RequestTTLSeconds ran out by ``at``, now running for this run (to be failed)."""
        rows = self._run("UPDATE async_requests SET state = ?, owner = ?, attempts = attempts + 1 "
                         "WHERE state = ? AND expires < ? RETURNING *", (RUNNING, self.owner, QUEUED, at)).fetchall()
        return [AsyncRequest._of(row) for row in rows]

    def release(self, request_id: str) -> None:
        """Put a claimed request back in the queue (no instance could take it)."""
        self._run("UPDATE async_requests SET state = ?, owner = NULL WHERE id = ? AND state = ?",
                  (QUEUED, request_id, RUNNING))

    def answered(self, request_id: str, notice: dict[str, Any] | None) -> None:
        """The result is in place: keep the notification to send (deleted when there is none)."""
        if notice is None:
            self.finish(request_id)
            return
        self._run("UPDATE async_requests SET state = ?, notice = ?, body = NULL WHERE id = ?",
                  (NOTIFYING, json.dumps(notice), request_id))

    def finish(self, request_id: str) -> None:
        """Forget a request whose result is in place and whose notification was posted."""
        self._run("DELETE FROM async_requests WHERE id = ?", (request_id,))

    def notices(self) -> list[tuple[str, dict[str, Any]]]:
        """Notifications a previous run left unsent: (request id, notification)."""
        rows = self._run("SELECT id, notice FROM async_requests WHERE state = ?", (NOTIFYING,)).fetchall()
        return [(row["id"], json.loads(row["notice"])) for row in rows]

    def count(self, endpoint: str) -> int:
        """Requests of ``endpoint`` queued or running."""
        return self._run("SELECT count(*) FROM async_requests WHERE endpoint = ? AND state IN (?, ?)",
                         (endpoint, QUEUED, RUNNING)).fetchone()[0]

    def backlogs(self) -> dict[str, Backlog]:
        """Every endpoint's backlog (requests queued or running)."""
        rows = self._run("SELECT endpoint, count(*) AS size, min(received) AS oldest FROM async_requests "
                         "WHERE state IN (?, ?) GROUP BY endpoint", (QUEUED, RUNNING)).fetchall()
        return {row["endpoint"]: Backlog(row["size"], row["oldest"]) for row in rows}

    def queued_endpoints(self) -> set[str]:
        """Endpoints with requests waiting to be claimed."""
        rows = self._run("SELECT DISTINCT endpoint FROM async_requests WHERE state = ?", (QUEUED,)).fetchall()
        return {row["endpoint"] for row in rows}

    def drop_endpoint(self, endpoint: str) -> int:
        """Forget a deleted endpoint's requests; how many."""
        return self._run("DELETE FROM async_requests WHERE endpoint = ?", (endpoint,)).rowcount


def now() -> float:
    """Epoch seconds (request times are wall-clock: they outlive the process)."""
    return time.time()
