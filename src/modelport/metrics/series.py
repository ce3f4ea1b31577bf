"""Counters and histograms cheap enough for the hot path, rendered in Prometheus' text format at scrape time.

A request costs a few integer additions and one ``bisect`` (no lock: each object is written by one
event loop, and read by a scrape on the same loop); ``prometheus_client`` only formats a scrape
(:func:`render`), so its per-observation locks and per-bucket loops stay off the hot path.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any

from modelport.metrics.names import HELP

# prometheus_client's CONTENT_TYPE_LATEST, written out: importing prometheus_client costs ~0.1 s (it loads
# http.server), so it is imported at the first scrape, never at a worker's or a Lambda's start
CONTENT_TYPE = "text/plain; version=1.0.0; charset=utf-8"


class Histogram:
    """Counts per bucket (``value <= bound``, plus +Inf) and the sum of observed values."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one value."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def add(self, other: "Histogram") -> None:
        """Add another histogram with the same bounds (aggregating series)."""
        for i, count in enumerate(other.counts):
            self.counts[i] += count
        self.total += other.total


def cumulative(bounds: Sequence[float], counts: Sequence[float]) -> list[tuple[str, float]]:
    """Prometheus' cumulative ``le`` buckets from per-bucket counts (the last one is +Inf)."""
    running = 0.0
    out = []
    for bound, count in zip((*bounds, float("inf")), counts):
        running += count
        out.append(("+Inf" if bound == float("inf") else _number(bound), running))
    return out


def _number(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else repr(bound)


def counter_family(name: str, labels: Sequence[str], samples: Iterable[tuple[Sequence[str], float]]) -> Any:
    """A counter family (exposed as ``name_total``) with one sample per label values."""
    from prometheus_client.core import CounterMetricFamily

    family = CounterMetricFamily(name, HELP[name], labels=list(labels))
    for values, count in samples:
        family.add_metric(list(values), count)
    return family


def gauge_family(name: str, labels: Sequence[str], samples: Iterable[tuple[Sequence[str], float]]) -> Any:
    """A gauge family with one sample per label values."""
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(name, HELP[name], labels=list(labels))
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def histogram_family(name: str, labels: Sequence[str],
                     samples: Iterable[tuple[Sequence[str], Sequence[float], Sequence[float], float]]) -> Any:
    """A histogram family: per label values, (bounds, per-bucket counts, sum)."""
    from prometheus_client.core import HistogramMetricFamily

    family = HistogramMetricFamily(name, HELP[name], labels=list(labels))
    for values, bounds, counts, total in samples:
        family.add_metric(list(values), cumulative(bounds, counts), total)
    return family


class _Families:
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families


def render(families: Iterable[Any]) -> bytes:
    """The families (from :func:`counter_family`, :func:`gauge_family`, :func:`histogram_family`) in Prometheus' text format."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(list(families)))
    return generate_latest(registry)
