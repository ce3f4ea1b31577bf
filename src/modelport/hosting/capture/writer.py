"""Capture files, written off the hot path.

The invoke path only appends an :class:`~.records.Event` to a bounded in-memory queue (:meth:`CaptureWriter.offer`);
when the queue is full (``max_records`` events or ``max_bytes`` of bodies) the event is dropped and counted
(``CaptureRecordsDropped``) instead of making the caller wait. A task wakes every ``flush_seconds`` (or as soon as the queue is half
full), takes what is queued, and writes one new file per endpoint, variant and UTC hour (a new file per flush: S3 objects cannot be
appended to; a file over ``max_file_bytes`` is split), in SageMaker's layout::

    {DestinationS3Uri}/{EndpointName}/{VariantName}/yyyy/mm/dd/hh/{MM-SS-mmm}-{uuid}.jsonl

A file is put in place whole (an S3 object, or a local file renamed into place). :meth:`close` writes whatever is
still queued, so a clean stop loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from modelport.hosting.capture.records import Event, to_line
from modelport.hosting.locations import LocationError, OutputFile, Places
from modelport.objectstore import ObjectStoreError

log = logging.getLogger(__name__)

FILE_CONTENT_TYPE = "application/jsonl"
MAX_FILE_BYTES = 64 * 1024 * 1024
WRITE_LINES = 64  # records joined per write


def file_uri(destination: str, endpoint: str, variant: str, when: float) -> str:
    """Where a capture file that starts with an event at ``when`` goes (SageMaker's key layout and file name)."""
    t = time.gmtime(when)
    millis = int(when * 1000) % 1000
    return (f"{destination.rstrip('/')}/{endpoint}/{variant}/{t.tm_year:04d}/{t.tm_mon:02d}/{t.tm_mday:02d}/"
            f"{t.tm_hour:02d}/{t.tm_min:02d}-{t.tm_sec:02d}-{millis:03d}-{uuid.uuid4()}.jsonl")


class CaptureWriter:
    """Hosting's one capture queue and the task that empties it into files."""

    def __init__(self, places: Callable[[], Places], metrics: Any, *, flush_seconds: float, max_records: int,
                 max_bytes: int, max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.places = places
        self.metrics = metrics  # HostingMetrics or None
        self.flush_seconds = flush_seconds
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.max_file_bytes = max_file_bytes
        self.dropped = 0  # events dropped (queue full or unwritable), also with metrics off
        self.written = 0  # events written to files
        self._queue: deque[Event] = deque()
        self._bytes = 0
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()  # set when the queue is half full, and by close() (the task then ends)
        self._closed = False

    # the hot path
    def offer(self, event: Event) -> bool:
        """Queue ``event`` for writing; False (and counted as dropped) when the queue is full or closed."""
        if self._closed or len(self._queue) >= self.max_records or self._bytes + event.size > self.max_bytes:
            self._drop(event.endpoint, event.variant, 1)
            return False
        self._queue.append(event)
        self._bytes += event.size
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        elif (self._bytes > self.max_bytes // 2 or len(self._queue) > self.max_records // 2) and not self._wake.is_set():
            self._wake.set()  # half full: write now rather than drop at the next burst
        return True

    def _drop(self, endpoint: str, variant: str, count: int) -> None:
        self.dropped += count
        series = self.metrics.variants.get((endpoint, variant)) if self.metrics is not None else None
        if series is not None:  # (not for an endpoint deleted meanwhile: its series are gone)
            series.capture_dropped += count

    # the writer
    async def _run(self) -> None:
        while not self._closed:
            try:
                await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
            except asyncio.TimeoutError:
                pass
            if not self._closed:
                self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write everything queued now."""
        if not self._queue:
            return
        events = list(self._queue)
        self._queue.clear()
        self._bytes = 0
        groups: dict[tuple[str, str, str, int], list[Event]] = {}
        for event in events:
            key = (event.settings.destination, event.endpoint, event.variant, int(event.when // 3600))
            groups.setdefault(key, []).append(event)
        failed = await asyncio.to_thread(self._write, groups)
        self.written += len(events) - sum(failed.values())
        for (endpoint, variant), count in failed.items():
            self._drop(endpoint, variant, count)

    def _write(self, groups: dict[tuple[str, str, str, int], list[Event]]) -> dict[tuple[str, str], int]:
        """Write each group's files (in a thread); the events that could not be written, per endpoint and variant."""
        failed: dict[tuple[str, str], int] = {}
        places = self.places()
        for (destination, endpoint, variant, _), events in groups.items():
            lines = [to_line(event) for event in events]
            start = 0
            while start < len(lines):
                end, size = start, 0
                while end < len(lines) and (end == start or size + len(lines[end]) <= self.max_file_bytes):
                    size += len(lines[end])
                    end += 1
                uri = file_uri(destination, endpoint, variant, events[start].when)
                try:
                    output = OutputFile(places, uri, places.check(uri, "DataCaptureConfig.DestinationS3Uri"),
                                        FILE_CONTENT_TYPE)
                    try:
                        for first in range(start, end, WRITE_LINES):  # ~1 MB writes, never one copy of the file
                            output.write(b"".join(lines[first:min(end, first + WRITE_LINES)]))
                        output.commit()
                    except BaseException:
                        output.discard()
                        raise
                except (LocationError, ObjectStoreError, OSError) as exc:
                    log.warning("data capture: could not write %s (%d records dropped): %s", uri, end - start,
                                getattr(exc, "message", exc))
                    failed[(endpoint, variant)] = failed.get((endpoint, variant), 0) + end - start
                start = end
        return failed

    async def close(self) -> None:
        """Stop the task and write what is still queued (a clean stop loses nothing)."""
        self._closed = True
        self._wake.set()
        if self._task is not None:  # never cancelled mid-write: a file being written is finished first
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()
