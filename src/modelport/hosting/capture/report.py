"""The shadow report: production and shadow answers paired from capture files (by ``eventId``, else
``inferenceId``) and compared with :mod:`.agreement`; latency and error rates per variant from hosting's metrics
(SageMaker's capture records carry no latency, so neither do these), with the capture records and shadow copies
each variant dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from modelport.hosting.capture.agreement import ABS_TOLERANCE, REL_TOLERANCE, answers_agree
from modelport.hosting.capture.reader import Captured
from modelport.hosting.capture.records import body
from modelport.metrics import names, scrape

EXAMPLES = 5  # disagreements shown in a report


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0–1) of ``values`` by nearest rank; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def output_of(record: dict[str, Any]) -> tuple[bytes, str] | None:
    """A record's captured answer and its content type (None when only the input was captured)."""
    half = record.get("captureData", {}).get("endpointOutput")
    return (body(half), half.get("observedContentType", "")) if half else None


def input_of(record: dict[str, Any]) -> tuple[bytes, str] | None:
    """A record's captured request body and its content type (None when only the output was captured)."""
    half = record.get("captureData", {}).get("endpointInput")
    return (body(half), half.get("observedContentType", "")) if half else None


def _preview(data: bytes, limit: int = 200) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "…"


def _dropped(metrics_text: str, endpoint: str, variant: str) -> int:
    """Capture records and shadow copies of ``variant`` dropped (hosting's ``*Dropped_total`` counters)."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {f"{names.CAPTURE_DROPPED}_total", f"{names.SHADOW_DROPPED}_total"}
    return int(sum(sample.value for family in text_string_to_metric_families(metrics_text)
                   for sample in family.samples if sample.name in wanted
                   and sample.labels.get("endpoint") == endpoint and sample.labels.get("variant") == variant))


def _variant_metrics(metrics_text: str | None, endpoint: str, variant: str) -> dict[str, Any]:
    if metrics_text is None:
        return {}
    sample = scrape.parse_variants(metrics_text, endpoint).get(variant)
    if sample is None:
        return {"invocations": 0, "dropped": 0}
    calls = sample.invocations
    buckets = sorted(sample.latency_buckets.items())
    p50, p99 = scrape.quantile(0.5, buckets), scrape.quantile(0.99, buckets)
    return {"invocations": int(calls), "dropped": _dropped(metrics_text, endpoint, variant),
            "error_rate_4xx": sample.errors_4xx / calls if calls else None,
            "error_rate_5xx": sample.errors_5xx / calls if calls else None,
            "p50_ms": p50 / 1000 if p50 is not None else None,
            "p99_ms": p99 / 1000 if p99 is not None else None}


def shadow_report(records: Iterable[Captured], endpoint: str, production: str, shadow: str,
                  metrics_text: str | None, rel: float = REL_TOLERANCE, abs_: float = ABS_TOLERANCE) -> dict[str, Any]:
    """Compare ``shadow`` with ``production`` over ``endpoint``'s capture records (see the module docstring)."""
    sides: dict[str, dict[str, dict[str, Any]]] = {production: {}, shadow: {}}
    captured = {production: 0, shadow: 0}
    for item in records:
        if item.variant in sides and (not item.endpoint or item.endpoint == endpoint):
            captured[item.variant] += 1
            event_id = (item.record.get("eventMetadata") or {}).get("eventId")
            sides[item.variant][event_id or f"#{captured[item.variant]}"] = item.record
    ours, theirs = sides[production], sides[shadow]
    pairs = [(ours[k], theirs[k]) for k in ours.keys() & theirs.keys()]
    by_inference = {r["eventMetadata"]["inferenceId"]: r for k, r in theirs.items()
                    if k not in ours and (r.get("eventMetadata") or {}).get("inferenceId")}
    for key, record in ours.items():
        inference_id = (record.get("eventMetadata") or {}).get("inferenceId")
        if key not in theirs and inference_id in by_inference:
            pairs.append((record, by_inference.pop(inference_id)))
    agreed, examples = 0, []
    for prod, shad in sorted(pairs, key=lambda p: p[0].get("eventMetadata", {}).get("inferenceTime", "")):
        a, b = output_of(prod), output_of(shad)
        if a is None or b is None:
            continue
        if answers_agree(a[0], a[1], b[0], b[1], rel, abs_):
            agreed += 1
        elif len(examples) < EXAMPLES:
            request = input_of(prod)
            examples.append({"eventId": prod.get("eventMetadata", {}).get("eventId"),
                             "input": _preview(request[0]) if request else None,
                             "production": _preview(a[0]), "shadow": _preview(b[0])})
    compared = sum(1 for p, s in pairs if output_of(p) is not None and output_of(s) is not None)
    return {
        "endpoint": endpoint, "production": production, "shadow": shadow,
        "compared": compared, "agreed": agreed, "agreement": agreed / compared if compared else None,
        "unpaired": {production: captured[production] - len(pairs), shadow: captured[shadow] - len(pairs)},
        "variants": {name: {"captured": captured[name], **_variant_metrics(metrics_text, endpoint, name)}
                     for name in (production, shadow)},
        "disagreements": examples,
    }
