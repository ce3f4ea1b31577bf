"""Several rounds of one race folded into one entry per server: the median of each figure.

A race runs every server once per round, the servers taking turns (the order rotates each round, so no
server always runs first or last), and reports the median of the rounds for every load point. Noise
from the rest of the machine then has to last across rounds to move a figure.

Errors are never averaged away: a point's error counts are the sum over all rounds, and a server that
failed in any round is reported failed with that round's error.
"""
from __future__ import annotations

from statistics import median

# Load-point figures reported as the median of the rounds; error counts are summed instead.
MEDIAN_FIELDS = ("seconds", "requests_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms",
                 "server_cores", "wrk_cores", "other_cores")
SUMMED_FIELDS = ("requests", "non2xx", "socket_errors", "errors")


def turn_order(names: list[str], round_index: int) -> list[str]:
    """The order the servers run in during round ``round_index`` (0-based): rotated by one each round."""
    if not names:
        return []
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def _median_point(points: list[dict]) -> dict:
    merged = dict(points[-1])
    for field in MEDIAN_FIELDS:
        values = [p[field] for p in points if field in p]
        if values:
            merged[field] = round(median(values), 3)
    for field in SUMMED_FIELDS:
        if all(field in p for p in points):
            merged[field] = sum(p[field] for p in points)
    merged["rounds_requests_per_s"] = [p["requests_per_s"] for p in points]
    return merged


def fold(entries: list[dict]) -> dict:
    """One server's entry from its entries of every round (in round order).

    Load points, cold start and idle memory become medians; the peak memory is the highest seen; the
    memory check and the example command come from the last round (the only one that runs it). A failed
    round makes the whole entry failed.
    """
    if len(entries) == 1:
        return entries[0]
    failed = next((e for e in entries if not e.get("ok")), None)
    if failed is not None:
        return {**failed, "rounds": len(entries)}
    last = entries[-1]
    folded = {**last, "rounds": len(entries)}
    levels = [p["concurrency"] for p in last["points"]]
    folded["points"] = [
        _median_point([next(p for p in e["points"] if p["concurrency"] == level) for e in entries])
        for level in levels
    ]
    folded["cold_start_s"] = round(median(e["cold_start_s"] for e in entries), 3)
    folded["cold_start_rounds_s"] = [e["cold_start_s"] for e in entries]
    idle = [e["memory_idle"] for e in entries]
    folded["memory_idle"] = {key: round(median(m[key] for m in idle), 1) for key in idle[0]}
    peaks = [e["memory_peak"] for e in entries]
    folded["memory_peak"] = max(peaks, key=lambda m: m["rss_mib"])
    return folded
