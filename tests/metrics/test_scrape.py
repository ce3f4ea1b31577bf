"""Reading hosting's /metrics back (``modelport status``): rates, error shares and quantiles between two scrapes."""

from __future__ import annotations

import pytest

from modelport.hosting.metrics import HostingMetrics
from modelport.metrics import scrape


def test_quantiles_interpolate_within_the_bucket_as_prometheus_does():
    buckets = [(100.0, 0.0), (200.0, 50.0), (400.0, 100.0), (float("inf"), 100.0)]
    assert scrape.quantile(0.5, buckets) == 200.0
    assert scrape.quantile(0.25, buckets) == 150.0
    assert scrape.quantile(0.99, buckets) == pytest.approx(396.0)
    assert scrape.quantile(0.5, [(100.0, 0.0), (float("inf"), 4.0)]) == 100.0  # in +Inf: the highest bound
    assert scrape.quantile(0.5, [(100.0, 0.0), (float("inf"), 0.0)]) is None


def test_rates_between_two_scrapes_of_hosting_metrics():
    counted = HostingMetrics()
    a = counted.variant("ep", "A")
    a.record(200, 0.001, 0.0012)
    before = scrape.parse(counted.render().decode())
    for _ in range(6):
        a.record(200, 0.0004, 0.0005)  # 400 µs in the model
    for _ in range(3):
        a.record(400, 0.0004, 0.0005)
    counted.variant("ep", "B").record(503, 0.0004, 0.0005)
    after = scrape.parse(counted.render().decode())
    (rates,) = scrape.rates(before, after, seconds=2.0)
    assert rates.endpoint == "ep"
    assert rates.requests_per_second == 5.0  # ten requests in two seconds, over both variants
    assert rates.error_rate_4xx == 0.3
    assert rates.error_rate_5xx == 0.1
    assert 300.0 < rates.p50_us <= 500.0  # all ten in the (300, 500] bucket; the 1 ms one was before
    assert rates.p99_us <= 500.0
    assert rates.overhead_p99_us <= 200.0
