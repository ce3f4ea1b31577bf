"""Long steps say how far they are: a bar on a terminal, and a plain line every few seconds when the
output is a log file or a pipe (``make run > log``, CI), where rich alone printed nothing until the end."""

from __future__ import annotations

import io
import re
import time

from rich.console import Console

from modelport import progress as progress_module
from modelport.progress import elapsed, progress


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def test_without_a_terminal_a_line_every_interval_says_how_far_the_step_is():
    console, out = plain_console()
    with progress("training chat model", total=40, unit="steps", fields={"loss": "-"}, console=console, every=0.05) as tracker:
        tracker.update(completed=10, loss="2.345")
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2, lines
    assert all(re.fullmatch(r"training chat model: 10/40 steps \(25%\), loss 2\.345, \d+s", line) for line in lines), lines


def test_a_step_without_counts_still_prints_that_it_is_running():
    console, out = plain_console()
    with progress("fitting PCA + SVC", console=console, every=0.05):
        time.sleep(0.2)
    assert re.match(r"fitting PCA \+ SVC, \d+s$", out.getvalue().splitlines()[0])


def test_quiet_and_terminal_runs_print_no_plain_lines():
    console, out = plain_console()
    with progress("quiet step", total=3, console=console, quiet=True, every=0.02) as tracker:
        tracker.update(advance=1)
        time.sleep(0.1)
    assert out.getvalue() == ""
    terminal = io.StringIO()
    with progress("bar step", total=3, console=Console(file=terminal, force_terminal=True, width=100), every=0.02) as tracker:
        tracker.update(advance=2)
        time.sleep(0.1)
    assert "bar step: 2/3" not in terminal.getvalue()  # a live bar, not the plain lines


def test_forced_colour_is_not_taken_for_a_terminal(capsys, monkeypatch):
    """Jupyter sets FORCE_COLOR for every subprocess (`!modelport up` in a notebook); output that is not a
    terminal still gets plain lines, not a bar redrawn into the captured text."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    with progress("packing model.tar.gz", total=4, unit="files", every=0.02) as tracker:
        tracker.update(completed=3)
        time.sleep(0.15)
    err = capsys.readouterr().err
    assert re.search(r"^packing model\.tar\.gz: 3/4 files \(75%\), \d+s$", err, re.M), err
    assert "\x1b[" not in err  # no cursor movement or colour codes


def test_elapsed_reads_like_a_clock():
    assert [elapsed(s) for s in (4.2, 161, 3780)] == ["4s", "2m 41s", "1h 03m"]


def test_the_trainers_report_through_it_when_output_is_not_a_terminal(tmp_path, capsys, monkeypatch):
    """The bundled chat model and the sentiment model, trained for real with stderr captured (no terminal)."""
    from modelport.training import train

    monkeypatch.setattr(progress_module, "LINE_EVERY_S", 0.01)  # lines as often as possible: the fast runs are short
    train("chat", tmp_path / "chat", fast=True)
    train("sentiment", tmp_path / "sentiment", fast=True)
    err = capsys.readouterr().err
    assert re.search(r"^training chat model: \d+/30 steps \(\d+%\), loss [\d.-]+, \d+s$", err, re.M), err[-3000:]
    assert re.search(r"^fitting TF-IDF \+ logistic regression on 3,000 texts, \d+s$", err, re.M), err[-3000:]
