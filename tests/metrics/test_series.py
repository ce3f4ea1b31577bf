"""Histograms and their rendering: Prometheus' ``le`` semantics, cumulative buckets, the text parses back."""

from __future__ import annotations

import prometheus_client

from modelport.metrics import names
from modelport.metrics.series import CONTENT_TYPE, Histogram, counter_family, cumulative, histogram_family, render
from tests.helpers.metrics import Scrape


def test_a_value_on_a_bound_counts_in_that_bucket():
    histogram = Histogram((1.0, 2.0, 5.0))
    for value in (0.5, 1.0, 1.5, 2.0, 5.0, 5.1, 100.0):
        histogram.observe(value)
    assert histogram.counts == [2, 2, 1, 2]
    assert histogram.total == 115.1
    assert cumulative(histogram.bounds, histogram.counts) == [("1", 2), ("2", 4), ("5", 5), ("+Inf", 7)]


def test_rendered_families_parse_with_prometheus_clients_parser():
    histogram = Histogram(names.LATENCY_BUCKETS_US)
    for micros in (40.0, 120.0, 120.0, 9e7):
        histogram.observe(micros)
    text = render([
        counter_family(names.INVOCATIONS, ("endpoint",), [(("a",), 3), (("b",), 0)]),
        histogram_family(names.MODEL_LATENCY, ("endpoint",), [(("a",), histogram.bounds, histogram.counts, histogram.total)]),
    ]).decode()
    scraped = Scrape(text)
    assert scraped.value("Invocations_total", endpoint="a") == 3
    assert scraped.value("Invocations_total", endpoint="b") == 0
    assert scraped.value("ModelLatency_bucket", endpoint="a", le="50") == 1
    assert scraped.value("ModelLatency_bucket", endpoint="a", le="200") == 3
    assert scraped.value("ModelLatency_bucket", endpoint="a", le="60000000") == 3
    assert scraped.value("ModelLatency_bucket", endpoint="a", le="+Inf") == scraped.value("ModelLatency_count") == 4
    assert scraped.value("ModelLatency_sum", endpoint="a") == 40 + 240 + 9e7


def test_the_content_type_is_prometheus_clients():
    assert CONTENT_TYPE == prometheus_client.CONTENT_TYPE_LATEST
