"""One real request at a time: the correctness gate and the cold-start clock."""
from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class Reply:
    """Status and body of one HTTP response."""

    status: int
    body: bytes


def post(port: int, path: str, body: bytes, content_type: str, timeout: float = 5.0,
         headers: dict[str, str] | None = None) -> Reply:
    """POST body to 127.0.0.1:port/path on a fresh connection (``headers``: more request headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=body,
                     headers={"Content-Type": content_type, "Accept": "application/json", **(headers or {})})
        response = conn.getresponse()
        return Reply(response.status, response.read())
    finally:
        conn.close()


@dataclass
class GateResult:
    """Whether a server's answer matches the reference probabilities, and by how much it differs."""

    ok: bool
    max_abs_diff: float | None
    message: str


def check(reply: Reply, parse: Callable[[bytes], list[float]] | None, reference: np.ndarray,
          atol: float = 1e-5) -> GateResult:
    """Compare one reply with the reference probabilities (parse=None: any 2xx passes, for the floor)."""
    if not 200 <= reply.status < 300:
        return GateResult(False, None, f"HTTP {reply.status}: {reply.body[:300]!r}")
    if parse is None:
        return GateResult(True, None, "2xx (no model behind this server)")
    try:
        got = np.asarray(parse(reply.body), dtype=np.float64).ravel()
    except Exception as exc:  # a body we cannot read is a gate failure, not a crash
        return GateResult(False, None, f"unreadable body ({exc}): {reply.body[:300]!r}")
    if got.shape != reference.shape:
        return GateResult(False, None, f"expected {reference.size} probabilities, got {got.size}")
    diff = float(np.max(np.abs(got - reference)))
    if diff > atol:
        return GateResult(False, diff, f"probabilities differ from the reference by {diff:.3g} (> {atol})")
    return GateResult(True, diff, f"matches the reference (max abs diff {diff:.2g})")


def wait_first_prediction(port: int, path: str, body: bytes, content_type: str,
                          parse: Callable[[bytes], list[float]] | None, reference: np.ndarray,
                          started: float, is_alive: Callable[[], bool], timeout: float,
                          headers: dict[str, str] | None = None) -> tuple[float, GateResult]:
    """Send the real request until it answers correctly; return (seconds since `started`, gate result).

    Raises RuntimeError when the process dies or the timeout passes first.
    """
    last = "no answer yet"
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if not is_alive():
            raise RuntimeError(f"server exited before its first prediction (last: {last})")
        try:
            reply = post(port, path, body, content_type, timeout=10.0, headers=headers)
        except OSError as exc:
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.01)
            continue
        result = check(reply, parse, reference)
        if result.ok:
            return time.perf_counter() - started, result
        last = result.message
        # A server that answers but answers wrongly after it is up is a gate failure, not slowness;
        # still retry briefly, as some servers answer 5xx while their workers load.
        time.sleep(0.05)
    raise RuntimeError(f"no correct prediction within {timeout:.0f} s (last: {last})")
