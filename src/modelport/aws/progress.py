"""Progress output of deploy / destroy: one line per step, a live status while waiting."""

from __future__ import annotations

import time
from typing import Callable

from rich.console import Console


class Progress:
    """Prints steps and polls with a spinner; ``sleep`` is injectable so tests do not wait."""

    def __init__(self, console: Console | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.console = console or Console(stderr=True)
        self.sleep, self.clock = sleep, clock
        self.steps: list[str] = []

    def step(self, message: str) -> None:
        """Report one finished step."""
        self.steps.append(message)
        self.console.print(f"  {message}")

    def poll(self, description: str, check: Callable[[], tuple[bool, str]], timeout: float, interval: float) -> str:
        """Call ``check`` until it says done; returns its last state text; TimeoutError after ``timeout`` s."""
        started = self.clock()
        with self.console.status(description) as status:
            while True:
                done, state = check()
                elapsed = self.clock() - started
                status.update(f"{description}: {state} ({elapsed:.0f} s)")
                if done:
                    return state
                if elapsed > timeout:
                    raise TimeoutError(f"{description}: still {state} after {timeout:.0f} s")
                self.sleep(interval)
