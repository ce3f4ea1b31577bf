"""Child processes of the stack: started with their logs in files that rotate by size
(``MODELPORT_LOG_MAX_MB`` × ``MODELPORT_LOG_BACKUPS``), stopped in order, never orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import httpx

from modelport.logfiles import RotatingLog, pump
from modelport.process import die_with_parent


class ManagedProcess:
    """One service run as ``python -m MODULE ARGS...`` (``args`` begins with the module)."""

    def __init__(self, name: str, args: list[str], log_file: Path, env: dict[str, str]):
        self.name = name
        self.args = args
        self.log_file = log_file
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log = RotatingLog(log_file)

    def start(self) -> None:
        """Start it in its own session (Ctrl-C reaches the stack, which stops children in order); its
        output goes through a pipe into the rotating log."""
        read_end, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *self.args],
                stdout=write_end,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
                preexec_fn=partial(die_with_parent, signal.SIGTERM, parent=os.getpid()),  # no orphans
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        pump(read_end, self.log, name=f"log-{self.name}")

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The end of its log (for error messages)."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def wait_http(self, url: str, timeout: float, ok=lambda r: r.status_code < 500) -> None:
        """Wait until ``url`` answers (``ok``); RuntimeError with the log if it dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                if ok(httpx.get(url, timeout=2)):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer on {url} within {timeout:g} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left after ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
