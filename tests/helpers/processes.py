"""Real server processes in tests: a free port, the one ready-wait, the one way to stop them, and the
processes a MODELPORT_HOME still has."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Callable

import httpx

from modelport.process import stop_all
from tests.helpers.waiting import eventually


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProcessExited(Exception):
    """The process a test waits for ended before it was up."""


def wait_until_up(url: str, process: subprocess.Popen, output: Callable[[], str], timeout: float = 60) -> None:
    """Poll GET ``url`` until it answers 200. If ``process`` exits first or time runs out, kill it and
    fail with ``output()`` (its log), so a server that cannot start says why."""
    def answers() -> bool:
        if process.poll() is not None:
            raise ProcessExited(f"exited with {process.returncode}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        eventually(answers, timeout, 0.05, message=f"not up after {timeout:g} s")
    except (ProcessExited, AssertionError) as error:
        process.kill()
        process.wait()
        raise AssertionError(f"{url}: {error}:\n{output()}") from None


def stop(process: subprocess.Popen | None, grace: float = 20) -> int | None:
    """SIGTERM ``process`` if it still runs, SIGKILL it ``grace`` seconds later; its exit code (None if never started)."""
    if process is None:
        return None
    stop_all([process], grace)
    return process.returncode


def processes_of_home(home: Path) -> list[int]:
    """Every live process (zombies aside) whose environment has ``MODELPORT_HOME=home``, this one excepted:
    what a stack, hosting or the services process started for that home and left running."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"MODELPORT_HOME={home}".encode() in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found
