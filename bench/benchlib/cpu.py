"""How much CPU the rest of the machine took while one load point ran: a noise gauge per point.

other = machine-wide busy CPU − the server's processes − wrk (a child of this runner) − this runner,
in cores (CPU-seconds per second). Near 0 means the point ran on a quiet machine.
"""
from __future__ import annotations

import resource
import time
from dataclasses import dataclass

import psutil

from .processes import session_processes


@dataclass
class Snapshot:
    """Cumulative CPU seconds at one instant."""

    wall: float
    machine_busy: float
    server: float
    children: float
    runner: float


def _busy() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _server(session_id: int) -> float:
    total = 0.0
    for process in session_processes(session_id):
        try:
            cpu = process.cpu_times()
            total += cpu.user + cpu.system
        except psutil.Error:
            continue
    return total


def snapshot(session_id: int) -> Snapshot:
    """Take the CPU counters now."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    runner = resource.getrusage(resource.RUSAGE_SELF)
    return Snapshot(time.monotonic(), _busy(), _server(session_id), children.ru_utime + children.ru_stime,
                    runner.ru_utime + runner.ru_stime)


def usage(before: Snapshot, after: Snapshot) -> dict:
    """Cores used by the server, by wrk and by everything else between two snapshots."""
    wall = max(after.wall - before.wall, 1e-9)
    server = (after.server - before.server) / wall
    load_gen = (after.children - before.children) / wall
    runner = (after.runner - before.runner) / wall
    busy = (after.machine_busy - before.machine_busy) / wall
    return {"server_cores": round(server, 2), "wrk_cores": round(load_gen, 2),
            "other_cores": round(max(busy - server - load_gen - runner, 0.0), 2)}
