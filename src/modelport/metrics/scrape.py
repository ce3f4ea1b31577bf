"""Reading hosting's ``/metrics`` back: two scrapes a moment apart → requests/s, p50/p99 and error rates per
endpoint (what ``modelport status`` prints).

Quantiles are estimated from the histogram buckets' growth between the scrapes, as Prometheus'
``histogram_quantile`` does (linear within the bucket the rank falls in).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from modelport.metrics import names


@dataclass
class EndpointSample:
    """One endpoint's counters at one scrape (summed over its variants)."""

    invocations: float = 0.0
    errors_4xx: float = 0.0
    errors_5xx: float = 0.0
    latency_buckets: dict[float, float] = field(default_factory=dict)  # le → cumulative count (ModelLatency)
    overhead_buckets: dict[float, float] = field(default_factory=dict)  # le → cumulative count (OverheadLatency)


@dataclass
class EndpointRates:
    """What happened at one endpoint between two scrapes."""

    endpoint: str
    requests_per_second: float
    error_rate_4xx: float | None  # share of invocations; None without invocations
    error_rate_5xx: float | None
    p50_us: float | None  # ModelLatency; None without answers
    p99_us: float | None
    overhead_p99_us: float | None


def parse(text: str) -> dict[str, EndpointSample]:
    """Per endpoint, its counters in one scrape of hosting's ``/metrics``."""
    return _parse(text, lambda labels: labels.get("endpoint"))


def parse_variants(text: str, endpoint: str) -> dict[str, EndpointSample]:
    """Per variant of ``endpoint``, its counters in one scrape (the shadow report compares variants)."""
    return _parse(text, lambda labels: labels.get("variant") if labels.get("endpoint") == endpoint else None)


def _parse(text: str, key_of) -> dict[str, EndpointSample]:  # noqa: ANN001 - key_of: labels -> str | None
    from prometheus_client.parser import text_string_to_metric_families

    samples: dict[str, EndpointSample] = defaultdict(EndpointSample)
    fields = {f"{names.INVOCATIONS}_total": "invocations", f"{names.ERRORS_4XX}_total": "errors_4xx",
              f"{names.ERRORS_5XX}_total": "errors_5xx"}
    buckets = {f"{names.MODEL_LATENCY}_bucket": "latency_buckets", f"{names.OVERHEAD_LATENCY}_bucket": "overhead_buckets"}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            endpoint = key_of(sample.labels)
            if endpoint is None:
                continue
            if sample.name in fields:
                entry = samples[endpoint]
                setattr(entry, fields[sample.name], getattr(entry, fields[sample.name]) + sample.value)
            elif sample.name in buckets:
                counts = getattr(samples[endpoint], buckets[sample.name])
                le = float(sample.labels["le"])
                counts[le] = counts.get(le, 0.0) + sample.value
    return dict(samples)


def quantile(q: float, cumulative: Sequence[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of a histogram given as sorted (le, cumulative count) pairs; None when empty.

    A rank in the +Inf bucket reports the highest finite bound (as Prometheus does)."""
    if not cumulative or cumulative[-1][1] <= 0:
        return None
    rank = q * cumulative[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def _grown(before: dict[float, float], after: dict[float, float]) -> list[tuple[float, float]]:
    return sorted((le, max(0.0, count - before.get(le, 0.0))) for le, count in after.items())


def rates(before: dict[str, EndpointSample], after: dict[str, EndpointSample], seconds: float) -> list[EndpointRates]:
    """Per endpoint present in ``after``: what grew between the two scrapes, ``seconds`` apart."""
    out = []
    for endpoint in sorted(after):
        now, then = after[endpoint], before.get(endpoint, EndpointSample())
        calls = max(0.0, now.invocations - then.invocations)
        latency = _grown(then.latency_buckets, now.latency_buckets)
        overhead = _grown(then.overhead_buckets, now.overhead_buckets)
        out.append(EndpointRates(
            endpoint=endpoint,
            requests_per_second=calls / seconds if seconds > 0 else 0.0,
            error_rate_4xx=max(0.0, now.errors_4xx - then.errors_4xx) / calls if calls else None,
            error_rate_5xx=max(0.0, now.errors_5xx - then.errors_5xx) / calls if calls else None,
            p50_us=quantile(0.5, latency),
            p99_us=quantile(0.99, latency),
            overhead_p99_us=quantile(0.99, overhead),
        ))
    return out


def watch(fetch, interval: float) -> list[EndpointRates]:  # noqa: ANN001 - fetch: () -> str
    """Scrape with ``fetch`` twice, ``interval`` seconds apart; the rates between the two."""
    first = parse(fetch())
    started = time.monotonic()
    time.sleep(interval)
    second = parse(fetch())
    return rates(first, second, time.monotonic() - started)
