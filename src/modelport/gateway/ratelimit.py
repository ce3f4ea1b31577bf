"""Token-bucket rate limiting per client (API key when given, else client IP), kept in memory.

The idea of API Gateway usage plans, built in: each client has a bucket of `burst` tokens refilled at
`rate` per second; a request takes one token or is refused with the seconds to wait (Retry-After).
In Lambda each warm instance keeps its own buckets, so the limit there is per instance (best effort,
like API Gateway's own throttling); put API Gateway throttling in front for a hard account-wide cap.

Wrong API keys have their own buckets per client address (``FAILED_KEY_LIMIT``, always on when keys
are required): each wrong key takes a token, and an address with none left gets 429 for every key
it presents until one refills — a valid key too, or the 429s would tell a guesser which key is right.
Requests with a valid key never take a failure token, so clients that know their key are not slowed.
"""

from __future__ import annotations

import math
import time

from modelport.gateway.settings import RateLimit

MAX_CLIENTS = 10_000  # forget the oldest buckets beyond this many clients
FAILED_KEY_LIMIT = RateLimit(rate=10 / 60, burst=10)  # wrong API keys per client address: 10, then 10 a minute


class TokenBuckets:
    """One token bucket per client id."""

    def __init__(self, limit: RateLimit, clock=time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, last refill time)

    def take(self, client: str) -> float:
        """Take one token for `client`: 0.0 when allowed, else the seconds until a token is available."""
        return self._settle(client, take=True)

    def wait(self, client: str) -> float:
        """Seconds until `client` has a token (0.0: it has one now), taking nothing; no bucket is made."""
        if client not in self._buckets:
            return 0.0
        return self._settle(client, take=False)

    def _settle(self, client: str, *, take: bool) -> float:
        now = self.clock()
        tokens, last = self._buckets.pop(client, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + (now - last) * self.limit.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0 if take else 0.0
        else:
            wait = (1.0 - tokens) / self.limit.rate
        self._buckets[client] = (tokens, now)  # re-inserted: dict order is least recently used first
        if len(self._buckets) > MAX_CLIENTS:
            del self._buckets[next(iter(self._buckets))]
        return wait


def retry_after_header(wait_seconds: float) -> str:
    """Retry-After value (whole seconds, at least 1) for a wait."""
    return str(max(1, math.ceil(wait_seconds)))
