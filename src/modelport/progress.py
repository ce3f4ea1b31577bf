"""Progress of a long step: a live bar (or spinner) on a terminal, a plain line every few seconds otherwise.

rich draws live displays only on a terminal. Written to a log file or a CI pipe (``make run > log``), a
live display prints nothing until it ends, so a seven-minute training looked hung. Every long step
(data fetches, training, packing) reports through ``progress()``: on a terminal it is rich's bar with the
caller's columns; elsewhere a background thread prints one line every ``LINE_EVERY_S`` seconds, such as
``training chat model: 812/2219 steps (37%), loss 1.734, 2m 41s``, whether or not the step updates it.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Any, Iterator, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

LINE_EVERY_S = 5.0
"""Seconds between two progress lines when there is no terminal."""


def elapsed(seconds: float) -> str:
    """``42s``, ``2m 41s``, ``1h 03m``."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


class Tracker:
    """What a step reports: ``update(completed=, advance=, total=, description=, **fields)``."""

    def __init__(self, description: str, total: float | None, unit: str, fields: dict[str, Any]) -> None:
        self.description, self.total, self.unit, self.fields = description, total, unit, dict(fields)
        self.completed = 0.0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._bar: tuple[Progress, Any] | None = None  # rich's progress and task, on a terminal

    def update(self, *, completed: float | None = None, advance: float | None = None, total: float | None = None,
               description: str | None = None, **fields: Any) -> None:
        """Record progress (any subset); on a terminal the bar follows at once."""
        with self._lock:
            if completed is not None:
                self.completed = completed
            if advance is not None:
                self.completed += advance
            if total is not None:
                self.total = total
            if description is not None:
                self.description = description
            self.fields.update(fields)
        if self._bar is not None:
            bar, task = self._bar
            bar.update(task, completed=self.completed, total=self.total, description=self.description, **fields)

    def line(self) -> str:
        """The plain progress line: what, how far, and for how long."""
        with self._lock:
            parts = [self.description]
            if self.total:
                count = f"{self.completed:,.0f}/{self.total:,.0f}{' ' + self.unit if self.unit else ''}"
                parts[0] += f": {count} ({100 * self.completed / self.total:.0f}%)"
            parts += [f"{name} {value}" for name, value in self.fields.items()]
        return ", ".join(parts) + f", {elapsed(time.monotonic() - self.started)}"


def _stderr_is_a_terminal() -> bool:
    """Whether stderr really is a terminal. rich also takes FORCE_COLOR as one, and Jupyter sets it for every
    subprocess: a bar redrawn there lands in the captured output as dozens of frames."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def default_columns(unit: str) -> tuple[ProgressColumn, ...]:
    """A description, a bar, done/total (with the unit) and the time elapsed."""
    return (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            *([TextColumn(unit)] if unit else []), TimeElapsedColumn())


@contextlib.contextmanager
def progress(description: str, total: float | None = None, *, unit: str = "", columns: Sequence[ProgressColumn] = (),
             fields: dict[str, Any] | None = None, quiet: bool = False, console: Console | None = None,
             every: float | None = None) -> Iterator[Tracker]:
    """Report a long step's progress (see the module docstring); ``total=None`` is a step without counts
    (a spinner on a terminal). ``fields`` are extra values the columns show (``{task.fields[loss]}``);
    ``every`` is the seconds between lines without a terminal (default ``LINE_EVERY_S``)."""
    tracker = Tracker(description, total, unit, fields or {})
    console = console or Console(stderr=True, force_terminal=_stderr_is_a_terminal())
    if quiet:
        yield tracker
        return
    if console.is_terminal:
        spinner = total is None and not columns
        layout = columns or ((TextColumn("{task.description} …"), TimeElapsedColumn()) if spinner else default_columns(unit))
        with Progress(*layout, console=console, transient=True) as bar:
            tracker._bar = (bar, bar.add_task(description, total=total, **tracker.fields))
            yield tracker
        return
    stop = threading.Event()
    interval = LINE_EVERY_S if every is None else every

    def report() -> None:
        while not stop.wait(interval):
            console.print(tracker.line(), markup=False, highlight=False, soft_wrap=True)

    reporter = threading.Thread(target=report, name="modelport-progress", daemon=True)
    reporter.start()
    try:
        yield tracker
    finally:
        stop.set()
        reporter.join()
