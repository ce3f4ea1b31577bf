"""Times a server's health check over and over on fresh connections, from a process of its own.

The tests that attack a server (thousands of half-open connections, a flood of headers) do so from the
test process; a pinger thread there would wait for the interpreter lock behind the attack loop and
count that wait as the server's latency. Run as ``python -m tests.helpers.pinger PORT PATH PAUSE``: it
prints one line per ping (``<seconds> <status or error>``) until its stdin closes.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.helpers.net import connect, read_response

REPO = Path(__file__).resolve().parents[2]


class Pinger:
    """A pinger process on ``server.port`` / ``server.ping``; :meth:`stop` returns the latencies (s)."""

    def __init__(self, server, pause: float = 0.02) -> None:
        self.server, self.pause = server, pause
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._first = threading.Event()

    def start(self) -> None:
        """Start pinging; returns once the first ping has been answered (the process is warm)."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.pinger", str(self.server.port), self.server.ping, str(self.pause)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._first.wait(30):
            raise AssertionError("the pinger process never reported a ping")
        self.latencies.clear()  # the warm-up ping is not part of the measurement
        self.failures.clear()

    def _read(self) -> None:
        for line in self._process.stdout:
            seconds, _, outcome = line.strip().partition(" ")
            self.latencies.append(float(seconds))
            if outcome != "200":
                self.failures.append(outcome)
            self._first.set()

    def stop(self) -> list[float]:
        """Stop the process (closing its stdin) and return every latency it measured; safe to call twice."""
        if self._process is not None and self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._reader.join(10)
        return self.latencies


def _ping_until_stdin_closes(port: int, path: str, pause: float) -> None:
    stopped = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stopped.set()), daemon=True).start()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    while not stopped.is_set():
        started = time.perf_counter()
        try:
            with connect(port, timeout=5) as sock:
                sock.sendall(request)
                outcome = str(read_response(sock, timeout=5)[0])
        except OSError as exc:
            outcome = repr(exc).replace("\n", " ")
        print(f"{time.perf_counter() - started:.6f} {outcome}", flush=True)
        time.sleep(pause)


if __name__ == "__main__":
    _ping_until_stdin_closes(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
