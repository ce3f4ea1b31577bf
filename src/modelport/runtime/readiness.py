"""Worker states shared between processes through a small mapped file: loaded? busy? connections?

Each worker owns one byte: DOWN (loading, or dead) → LOADED (model loaded and warmed up, waiting)
→ SERVING (accepting connections). The supervisor moves a worker from LOADED to SERVING only after
it has stopped answering on the port itself, so a request can never reach the supervisor's
"still loading" answer once any worker serves. ``/ping`` answers 200 only when every worker serves.
"""

from __future__ import annotations

import mmap
import os
import time
from pathlib import Path

DOWN, LOADED, SERVING = 0, 1, 2


class Readiness:
    """A view of the per-worker state bytes in ``path``."""

    def __init__(self, path: Path, workers: int, create: bool = False):
        self.path = path
        self.workers = workers
        busy_offset = (workers + 7) // 8 * 8
        connections_offset = busy_offset + 8 * workers
        size = connections_offset + 4 * workers
        if create:
            path.write_bytes(bytes([DOWN]) * workers + bytes(size - workers))
        fd = os.open(path, os.O_RDWR)
        try:
            self._file = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._map = memoryview(self._file)[:workers]
        self._busy = memoryview(self._file)[busy_offset:connections_offset].cast("d")
        self._connections = memoryview(self._file)[connections_offset:].cast("i")

    def set(self, index: int, state: int) -> None:
        """Set worker ``index``'s state."""
        self._map[index] = state

    def state(self, index: int) -> int:
        """Worker ``index``'s state."""
        return self._map[index]

    def wait_for(self, index: int, state: int, timeout: float, poll: float = 0.002) -> bool:
        """Wait until worker ``index`` reaches ``state``; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._map[index] != state:
            if time.monotonic() > deadline:
                return False
            time.sleep(poll)
        return True

    def all_ready(self) -> bool:
        """Whether every worker serves."""
        return self._map.tobytes().count(SERVING) == self.workers

    def any_ready(self) -> bool:
        """Whether at least one worker serves."""
        return SERVING in self._map.tobytes()

    def loaded(self) -> list[int]:
        """Workers that have loaded the model and wait to be let in."""
        return [i for i, state in enumerate(self._map.tobytes()) if state == LOADED]

    def count(self) -> int:
        """How many workers serve."""
        return self._map.tobytes().count(SERVING)

    def set_busy(self, index: int, since: float) -> None:
        """Record that worker ``index`` started a request at ``since`` (0.0: idle)."""
        self._busy[index] = since

    def connections(self, index: int) -> int:
        """Open connections held by worker ``index``."""
        return self._connections[index]

    def add_connections(self, index: int, delta: int) -> None:
        """Worker ``index`` opened (+1) or closed (-1) a connection (only it writes its slot)."""
        self._connections[index] += delta

    def serving_connections(self) -> dict[int, int]:
        """The connection count of each serving worker, by its index."""
        states = self._map.tobytes()
        return {i: self._connections[i] for i in range(self.workers) if states[i] == SERVING}

    def busy_since(self, index: int) -> float:
        """When worker ``index``'s current request started, or 0.0 when idle."""
        return self._busy[index]
