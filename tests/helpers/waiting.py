"""``eventually()``: the one way a test waits for something to become true (no hand-written polling loops)."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


class NotYet(AssertionError):
    """Raised by :func:`eventually` when its time ran out; says what was awaited and the last failure seen."""


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, *,
               message: str | Callable[[], str] = "the condition never held",
               ignore: tuple[type[BaseException], ...] = (AssertionError,)) -> T:
    """Call ``check()`` every ``interval`` seconds until it returns a truthy value, and return that value.

    A check that raises one of ``ignore`` (by default AssertionError, so a check may simply ``assert``)
    counts as "not yet"; any other exception ends the wait at once (a process that died, say). After
    ``timeout`` seconds it fails with :class:`NotYet`: ``message`` (or ``message()``, computed only then,
    e.g. a server's log) plus the last failure.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except ignore as error:
            last = f"{type(error).__name__}: {error}"
        else:
            if value:
                return value
            last = f"it returned {value!r}"
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise NotYet(f"{text} (after {timeout:g} s; last: {last})")
        time.sleep(interval)
