"""Start real ``modelport serve`` processes on 127.0.0.1 for tests, and write small model folders."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from tests.helpers.processes import free_port, stop, wait_until_up


def write_model(root: Path, script: str | None, files: dict[str, bytes] | None = None, name: str = "inference.py") -> Path:
    """A model folder: optional ``code/<name>`` with ``script`` (dedented) and artifact files."""
    root.mkdir(parents=True, exist_ok=True)
    if script is not None:
        (root / "code").mkdir(exist_ok=True)
        (root / "code" / name).write_text(textwrap.dedent(script))
    for relative, data in (files or {}).items():
        (root / relative).write_bytes(data)
    return root


class ModelServer:
    """A ``modelport serve`` subprocess; use as a context manager, or call start()/stop()."""

    def __init__(self, model: Path | str, *args: str, workers: int = 1, env: dict[str, str] | None = None, home: Path | None = None):
        self.model = str(model)
        self.args = list(args)
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        if home is not None:
            self.env["MODELPORT_HOME"] = str(home)
        self.process: subprocess.Popen | None = None
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def start(self, wait: bool = True, timeout: float = 60) -> "ModelServer":
        command = [sys.executable, "-m", "modelport", "serve", self.model, "--port", str(self.port), "--workers", str(self.workers), *self.args]
        self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """Poll /ping until 200; fail with the server's output if it exits first."""
        wait_until_up(self.url + "/ping", self.process, self.process.stderr.read, timeout)

    def wait_exit(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the process to end by itself; return (exit code, stderr)."""
        _, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stderr

    def worker_pids(self) -> list[int]:
        """PIDs of the worker processes (children of the supervisor)."""
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> int:
        """SIGTERM the server (SIGKILL 20 s later); its exit code."""
        self.client.close()
        return stop(self.process) if self.process else 0

    def post(self, body: bytes | str, content_type: str | None = "application/json", accept: str | None = None, **headers: str) -> httpx.Response:
        """POST /invocations."""
        sent = dict(headers)
        if content_type is not None:
            sent["Content-Type"] = content_type
        if accept is not None:
            sent["Accept"] = accept
        return self.client.post("/invocations", content=body, headers=sent)

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
