"""Start a server in its own session, measure the memory of all its processes, and end them all.

A server is the whole session it was started in (start_new_session=True): that catches processes
that leave the parent/child tree, like the Java front end that `multi-model-server --start` spawns
and then abandons.
"""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass
class Launch:
    """How to start one server: command, extra environment, working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now, below 32767 (MMS rejects ports >= 32767)."""
    for _ in range(200):
        port = random.randint(20000, 32766)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port found between 20000 and 32766")


def start(launch: Launch, log_path: Path) -> subprocess.Popen:
    """Start the server in a new session with stdout and stderr going to log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **launch.env}
    with open(log_path, "wb") as log:
        return subprocess.Popen(launch.argv, cwd=launch.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name in parentheses: state ppid pgrp session ...
    return int(stat.rsplit(")", 1)[1].split()[3])


def session_processes(session_id: int) -> list[psutil.Process]:
    """The server's whole process family: every live process of its session plus all their descendants.

    Descendants matter too: some servers (BentoML's circus arbiter) start workers in sessions of their own.
    """
    family: dict[int, psutil.Process] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _session_of(int(entry)) == session_id:
            try:
                process = psutil.Process(int(entry))
                family[process.pid] = process
                for child in process.children(recursive=True):
                    family[child.pid] = child
            except psutil.Error:
                continue
    live = []
    for process in family.values():
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                live.append(process)
        except psutil.Error:
            continue
    return live


@dataclass
class Memory:
    """Memory of a process family in MiB: summed RSS (counts shared pages once per process) and PSS."""

    processes: int
    rss_mib: float
    pss_mib: float


def memory(session_id: int) -> Memory:
    """Sum RSS and PSS over every process of the session."""
    rss = pss = 0
    processes = session_processes(session_id)
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return Memory(len(processes), rss / 2**20, pss / 2**20)


def stop_servers_on_sigterm() -> None:
    """Make SIGTERM (``kill``, ``timeout``, a CI cap) end a run as Ctrl-C does: SystemExit in the main thread, so
    every ``finally`` that stops what the run started still runs. The servers live in sessions of their own
    (:func:`start`) and no signal to the run reaches them: without this, a terminated run left them serving."""
    signal.signal(signal.SIGTERM, _exit_on_signal)


def _exit_on_signal(signum: int, _frame) -> None:
    sys.exit(128 + signum)


def stop(process: subprocess.Popen, grace_seconds: float = 10.0) -> None:
    """SIGTERM every process of the server's session, SIGKILL what is left after the grace period."""
    session_id = process.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        members = session_processes(session_id)
        if not members and process.poll() is not None:
            break
        for member in members:
            try:
                member.send_signal(sig)
            except psutil.Error:
                pass
        deadline = time.monotonic() + (grace_seconds if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            process.poll()
            if not session_processes(session_id):
                break
            time.sleep(0.1)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def wait_port_free(port: int, timeout: float = 10.0) -> bool:
    """True once nothing accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.1)
    return False
