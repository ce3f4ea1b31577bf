"""Which workers have loaded their model, shared between processes through a small mapped file.

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
        if create:
            path.write_bytes(bytes([DOWN]) * workers)
        fd = os.open(path, os.O_RDWR)
        try:
            self._map = mmap.mmap(fd, workers)
        finally:
            os.close(fd)

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
        return self._map[:].count(SERVING) == self.workers

    def any_ready(self) -> bool:
        """Whether at least one worker serves."""
        return self._map.find(bytes([SERVING])) != -1

    def loaded(self) -> list[int]:
        """Workers that have loaded the model and wait to be let in."""
        return [i for i, state in enumerate(self._map[:]) if state == LOADED]

    def count(self) -> int:
        """How many workers serve."""
        return self._map[:].count(SERVING)
