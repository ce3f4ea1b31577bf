"""Which workers have loaded their model, shared between processes through a small mapped file.

Each worker owns one byte (1 = model loaded and warmed up). ``/ping`` answers 200 only when every
byte is set; the supervisor reads the same bytes to know when the server as a whole is ready.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path


class Readiness:
    """A view of the per-worker ready flags in ``path``."""

    def __init__(self, path: Path, workers: int, create: bool = False):
        self.path = path
        self.workers = workers
        if create:
            path.write_bytes(b"\x00" * workers)
        fd = os.open(path, os.O_RDWR)
        try:
            self._map = mmap.mmap(fd, workers)
        finally:
            os.close(fd)

    def mark(self, index: int, ready: bool) -> None:
        """Set worker ``index``'s flag."""
        self._map[index] = 1 if ready else 0

    def is_ready(self, index: int) -> bool:
        """Worker ``index``'s flag."""
        return self._map[index] == 1

    def all_ready(self) -> bool:
        """Whether every worker has loaded its model."""
        return self._map.find(b"\x00") == -1

    def any_ready(self) -> bool:
        """Whether at least one worker can serve."""
        return self._map.find(b"\x01") != -1

    def count(self) -> int:
        """How many workers are ready."""
        return self._map[:].count(1)
