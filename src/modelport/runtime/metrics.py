"""The runtime's metrics: each worker counts in its own slots of a mapped file; any process renders all.

A model server's workers share one listening socket, so a scrape of ``GET /metrics`` lands on one of
them (or on the supervisor while none serves). Each worker writes only its own region of a file the
supervisor creates empty in its private state folder at start (so every server starts at zero and
nothing outlives it); a scrape sums every region. Why not ``prometheus_client``'s multiprocess mode:
it switches on through ``PROMETHEUS_MULTIPROC_DIR`` for the whole process, user code's own
``prometheus_client`` metrics included, takes a lock per observation and needs dead workers' files
merged; here a request costs a few additions into plain doubles, a restarted worker keeps adding to
the counts its predecessor left (counters never go back), and a scrape never waits for a worker.

Exported (no labels: one server is one model): ``Invocations``, ``Invocation4XXErrors``,
``Invocation5XXErrors``, ``ModelLatency`` (the handler pipeline, µs), ``ModelSetupTime`` (loading the
model in a worker, µs), and batching's ``BatchQueueWait``, ``BatchSize``, ``BatchReleases{reason}``.
"""

from __future__ import annotations

import mmap
import os
from bisect import bisect_left
from pathlib import Path

from modelport.metrics import names
from modelport.metrics.series import counter_family, histogram_family, render

_HISTOGRAMS = (
    (names.MODEL_LATENCY, names.LATENCY_BUCKETS_US),
    (names.MODEL_SETUP_TIME, names.SETUP_BUCKETS_US),
    (names.BATCH_QUEUE_WAIT, names.LATENCY_BUCKETS_US),
    (names.BATCH_SIZE, names.BATCH_SIZE_BUCKETS),
)
# one worker's region, in doubles: 3 counters, the release reasons, then per histogram its buckets (+Inf) and sum
_INVOCATIONS, _ERRORS_4XX, _ERRORS_5XX = 0, 1, 2
_RELEASES = {reason: 3 + i for i, reason in enumerate(names.RELEASE_REASONS)}
_OFFSETS: dict[str, int] = {}
_offset = 3 + len(names.RELEASE_REASONS)
for _name, _bounds in _HISTOGRAMS:
    _OFFSETS[_name] = _offset
    _offset += len(_bounds) + 2
REGION = _offset  # doubles per worker
_LATENCY = _OFFSETS[names.MODEL_LATENCY]
_LATENCY_SUM = _LATENCY + len(names.LATENCY_BUCKETS_US) + 1
_LATENCY_BOUNDS = names.LATENCY_BUCKETS_US


def create(path: Path, workers: int) -> None:
    """An all-zero metrics file for ``workers`` workers (the supervisor, at start)."""
    path.write_bytes(bytes(8 * REGION * workers))


class RuntimeMetrics:
    """A view of the metrics file: ``index`` is the worker that writes (None: read only)."""

    def __init__(self, path: Path, workers: int, index: int | None = None) -> None:
        self.workers = workers
        fd = os.open(path, os.O_RDWR)
        try:
            self._file = mmap.mmap(fd, 8 * REGION * workers)
        finally:
            os.close(fd)
        self._all = memoryview(self._file).cast("d")
        self._mine = self._all[index * REGION:(index + 1) * REGION] if index is not None else None

    # --- writing (a worker, its own region) --------------------------------------------------

    def record_invocation(self, status: int, seconds: float) -> None:
        """One ``/invocations`` answer: its status and the time the handler pipeline took."""
        slots = self._mine
        slots[_INVOCATIONS] += 1
        if status >= 500:
            slots[_ERRORS_5XX] += 1
        elif status >= 400:
            slots[_ERRORS_4XX] += 1
        micros = seconds * 1e6
        slots[_LATENCY + bisect_left(_LATENCY_BOUNDS, micros)] += 1
        slots[_LATENCY_SUM] += micros

    def record_setup(self, seconds: float) -> None:
        """This worker loaded the model in ``seconds`` (model_fn and the handlers' import)."""
        self._observe(names.MODEL_SETUP_TIME, names.SETUP_BUCKETS_US, seconds * 1e6)

    def record_batch(self, size: int, reason: str, queue_waits_s: list[float]) -> None:
        """One batch predicted: its size, why it was released (full, delay or idle), and how long each of
        its requests waited in the queue (seconds). Called by the batcher."""
        slot = _RELEASES.get(reason)
        if slot is None:
            raise ValueError(f"unknown batch release reason {reason!r}; one of {', '.join(names.RELEASE_REASONS)}")
        self._mine[slot] += 1
        self._observe(names.BATCH_SIZE, names.BATCH_SIZE_BUCKETS, float(size))
        for wait in queue_waits_s:
            self._observe(names.BATCH_QUEUE_WAIT, names.LATENCY_BUCKETS_US, wait * 1e6)

    def _observe(self, name: str, bounds: tuple[float, ...], value: float) -> None:
        offset = _OFFSETS[name]
        self._mine[offset + bisect_left(bounds, value)] += 1
        self._mine[offset + len(bounds) + 1] += value

    # --- reading (any process) ---------------------------------------------------------------

    def totals(self) -> list[float]:
        """Every worker's region summed, slot by slot."""
        values = self._all.tolist()
        return [sum(values[w * REGION + slot] for w in range(self.workers)) for slot in range(REGION)]

    def render(self) -> bytes:
        """All workers' metrics in Prometheus' text format."""
        t = self.totals()
        families = [
            counter_family(names.INVOCATIONS, (), [((), t[_INVOCATIONS])]),
            counter_family(names.ERRORS_4XX, (), [((), t[_ERRORS_4XX])]),
            counter_family(names.ERRORS_5XX, (), [((), t[_ERRORS_5XX])]),
            counter_family(names.BATCH_RELEASES, ("reason",),
                           [((reason,), t[slot]) for reason, slot in _RELEASES.items()]),
        ]
        for name, bounds in _HISTOGRAMS:
            offset = _OFFSETS[name]
            counts = t[offset:offset + len(bounds) + 1]
            families.append(histogram_family(name, (), [((), bounds, counts, t[offset + len(bounds) + 1])]))
        return render(families)
