"""The Grafana dashboard in deploy/grafana reads only metrics modelport exports, and shows each of them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from modelport.metrics import names

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "modelport.json"
# a metric name in PromQL: an identifier that is not a function, keyword, label or range variable
_IDENTIFIER = re.compile(r"(?<![\w$.\"'])([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*[=~!(])")
_PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "le", "job", "endpoint", "variant",
                 "instance", "model", "reason", "route", "status_class", "without", "on", "ignoring"}


def queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return exprs


def metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_strings)
    return {word for word in _IDENTIFIER.findall(without_ranges) if word not in _PROMQL_WORDS}


def test_every_queried_metric_is_exported():
    exported = names.exported_samples()
    used = set().union(*(metric_names(expr) for expr in queries()))
    assert used, "the dashboard queries something"
    assert used <= exported, f"not exported by modelport: {sorted(used - exported)}"


def test_every_exported_family_has_a_panel():
    used = set().union(*(metric_names(expr) for expr in queries()))
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in used}
    assert families == set(names.COUNTERS) | set(names.HISTOGRAMS) | set(names.GAUGES)


def test_the_name_extraction_sees_metrics_and_skips_promql():
    expr = 'histogram_quantile(0.99, sum by (le, job) (rate(ModelLatency_bucket{job=~"$job"}[$__rate_interval])))'
    assert metric_names(expr) == {"ModelLatency_bucket"}
    assert metric_names("label_values(Invocations_total, job)") == {"Invocations_total"}
