"""The capture writer on its own (real files, a real event loop): a full queue drops and counts instead of making
callers wait, a half-full queue is written before the interval, and close() writes what is left."""

from __future__ import annotations

import asyncio
import json
import time

from modelport.hosting.capture.config import CaptureSettings
from modelport.hosting.capture.records import Event
from modelport.hosting.capture.writer import CaptureWriter
from modelport.hosting.metrics import HostingMetrics
from modelport.hosting.locations import Places
from tests.helpers.waiting import eventually

SETTINGS = CaptureSettings.of({"InitialSamplingPercentage": 100, "DestinationS3Uri": "file:///unused",
                               "CaptureOptions": [{"CaptureMode": "Input"}],
                               "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]}})


def event(destination, i: int) -> Event:
    settings = CaptureSettings(**{**SETTINGS.__dict__, "destination": str(destination)})
    return Event("ep", "AllTraffic", i, None, time.time(), "text/csv", b"%d" % i, "text/csv", b"", settings)


def written(folder) -> list[str]:
    return sorted(json.loads(line)["captureData"]["endpointInput"]["data"]
                  for path in folder.rglob("*.jsonl") for line in path.read_text().splitlines())


def test_a_full_queue_drops_and_counts_and_close_writes_the_rest(tmp_path):
    metrics = HostingMetrics()
    metrics.variant("ep", "AllTraffic")

    async def main() -> CaptureWriter:
        writer = CaptureWriter(lambda: Places(None, [tmp_path]), metrics, flush_seconds=3600, max_records=3,
                               max_bytes=1 << 20)
        accepted = [writer.offer(event(tmp_path / "c", i)) for i in range(5)]  # one loop turn: no writing between
        assert accepted == [True, True, True, False, False]
        await writer.close()
        assert not writer.offer(event(tmp_path / "c", 9))  # closed: dropped, counted
        return writer

    writer = asyncio.run(main())
    assert written(tmp_path / "c") == ["0", "1", "2"]
    assert (writer.written, writer.dropped) == (3, 3)
    assert 'CaptureRecordsDropped_total{endpoint="ep",variant="AllTraffic"} 3.0' in metrics.render().decode()


def test_a_half_full_queue_is_written_before_the_interval(tmp_path):
    async def main() -> None:
        writer = CaptureWriter(lambda: Places(None, [tmp_path]), None, flush_seconds=3600, max_records=4,
                               max_bytes=1 << 20)
        for i in range(3):
            writer.offer(event(tmp_path / "c", i))
        await asyncio.to_thread(eventually, lambda: len(written(tmp_path / "c")) == 3, 10,
                                message="the half-full queue written")
        await writer.close()

    asyncio.run(main())
    assert written(tmp_path / "c") == ["0", "1", "2"]
