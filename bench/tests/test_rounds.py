"""The folding of a race's rounds into medians (benchlib/rounds.py)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import rounds  # noqa: E402


def _point(concurrency: int, rps: float, p99: float, errors: int = 0) -> dict:
    return {"concurrency": concurrency, "seconds": 10.0, "requests": int(rps * 10), "requests_per_s": rps,
            "p50_ms": p99 / 2, "p90_ms": p99 * 0.9, "p99_ms": p99, "max_ms": p99 * 2, "non2xx": errors,
            "socket_errors": 0, "errors": errors, "server_cores": 1.0, "wrk_cores": 0.5, "other_cores": 0.0}


def _entry(rps: float, cold: float, rss: float, errors: int = 0, ok: bool = True) -> dict:
    return {"ok": ok, "cold_start_s": cold, "points": [_point(1, rps, 1.0, errors), _point(64, rps * 5, 9.0)],
            "memory_idle": {"processes": 2, "rss_mib": rss, "pss_mib": rss / 2},
            "memory_peak": {"processes": 2, "rss_mib": rss * 2, "pss_mib": rss}}


def test_turns_rotate_so_no_server_always_goes_first():
    names = ["a", "b", "c"]
    orders = [rounds.turn_order(names, i) for i in range(3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert {order[0] for order in orders} == set(names)


def test_figures_are_medians_and_errors_are_summed():
    folded = rounds.fold([_entry(100, 0.5, 50), _entry(300, 0.9, 70, errors=2), _entry(200, 0.7, 60)])
    c1, c64 = folded["points"]
    assert c1["requests_per_s"] == 200 and c64["requests_per_s"] == 1000
    assert c1["rounds_requests_per_s"] == [100, 300, 200]
    assert c1["errors"] == 2 and c1["non2xx"] == 2  # one bad round shows in the sum
    assert c1["requests"] == 6000
    assert folded["cold_start_s"] == 0.7 and folded["cold_start_rounds_s"] == [0.5, 0.9, 0.7]
    assert folded["memory_idle"]["rss_mib"] == 60
    assert folded["memory_peak"]["rss_mib"] == 140  # the highest of any round
    assert folded["rounds"] == 3


def test_a_round_that_failed_fails_the_server():
    failed = {**_entry(0, 0, 0, ok=False), "error": "wrong answer after the load"}
    folded = rounds.fold([_entry(100, 0.5, 50), failed, _entry(200, 0.7, 60)])
    assert folded["ok"] is False and folded["error"] == "wrong answer after the load"


def test_one_round_is_left_as_it_is():
    entry = _entry(100, 0.5, 50)
    assert rounds.fold([entry]) is entry
