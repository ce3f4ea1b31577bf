"""When a worker counts as stuck in one request: one rule for the runtime's supervisor and for
hosting's health check.

A worker answers every request within its timeout (``SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS``:
SIGALRM interrupts Python code at the deadline and the client gets a 504), except in native code
that never returns to Python. The supervisor replaces a worker still inside one request this long
after the request started; hosting excuses an instance's missed pings while it is busy for just as
long, so the two never race to fix the same fault and a long but legal prediction is never killed.
"""

from __future__ import annotations

STUCK_GRACE_SECONDS = 5.0


def stuck_after(timeout_seconds: float) -> float:
    """Seconds a worker may spend in one request before it counts as stuck and is replaced."""
    return timeout_seconds + STUCK_GRACE_SECONDS
