"""Memory after many requests: does a server's RSS grow while it answers N more requests (a leak check)?

Runs after the measured points, so the server is warm: RSS and PSS of its whole process family are read,
wrk sends at least `target` more requests (in chunks sized from the rate seen so far, bounded in time),
then, after a second at rest, RSS and PSS are read again. Growth is (after − before) / before; the
issue's bar is < 10 % over 100,000 requests.
"""
from __future__ import annotations

import time
from pathlib import Path

from . import load, processes

GROWTH_BAR = 0.10
CHUNK_MAX_S = 60


def rss_after_requests(url: str, body_file: Path, content_type: str, session_id: int, target: int,
                       concurrency: int = 16, headers: dict[str, str] | None = None,
                       max_seconds: float = 1200.0, first_chunk_s: int = 5) -> dict:
    """Send at least `target` requests at `concurrency`; return RSS/PSS before and after, and the growth."""
    before = processes.memory(session_id)
    sent = errors = 0
    started = time.monotonic()
    chunk = first_chunk_s  # seconds (wrk takes whole seconds); the first chunk measures the rate
    while sent < target and time.monotonic() - started < max_seconds:
        point = load.run_wrk(url, body_file, content_type, concurrency, chunk, headers=headers)
        sent += point.requests
        errors += point.errors
        rate = max(point.requests_per_s, 1.0)
        left = max(target - sent, 0)
        chunk = int(min(CHUNK_MAX_S, max(1.0, left / rate * 1.05 + 1)))
    time.sleep(1.0)
    after = processes.memory(session_id)
    growth = (after.rss_mib - before.rss_mib) / before.rss_mib if before.rss_mib else 0.0
    return {
        "requests": sent, "errors": errors, "concurrency": concurrency, "target": target,
        "seconds": round(time.monotonic() - started, 1), "reached_target": sent >= target,
        "rss_before_mib": round(before.rss_mib, 1), "rss_after_mib": round(after.rss_mib, 1),
        "pss_before_mib": round(before.pss_mib, 1), "pss_after_mib": round(after.pss_mib, 1),
        "rss_growth": round(growth, 4), "ok": sent >= target and growth < GROWTH_BAR and errors == 0,
    }


def summary(results: dict, order: list[str]) -> str:
    """One line on every measured server's RSS growth over its extra requests ("" when none was measured)."""
    parts = []
    for name in order:
        entry = results["servers"].get(name) or {}
        check = entry.get("endurance")
        if check:
            parts.append(f"{entry['title']} {check['rss_before_mib']:.0f} → {check['rss_after_mib']:.0f} MiB "
                         f"({check['rss_growth'] * 100:+.1f}%{'' if check['ok'] else ', over the bar'})")
    if not parts:
        return ""
    requests = results["settings"].get("endurance_requests", 0)
    return (f"RSS after {requests:,} more requests at c=16 (bar: growth < {GROWTH_BAR:.0%}): " + "; ".join(parts) + ".")
