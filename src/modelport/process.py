"""Child processes that die with their parent: Linux's ``PR_SET_PDEATHSIG``, in one place.

A process that asks for it gets a signal when its parent dies — even by SIGKILL, when no clean-up
code runs — and the request survives ``exec``. modelport uses it so that no model server, runtime
worker, pip run or stack service outlives the process that started it:

- :func:`die_with_parent` in the child itself (a runtime worker), or as ``preexec_fn``
  (``partial(die_with_parent, parent=os.getpid())``) between fork and exec;
- :data:`LAUNCHER` for children started without ``preexec_fn`` (hosting's asyncio subprocesses):
  ``python -S -c LAUNCHER PARENT_PID COMMAND...`` asks, then execs COMMAND.

It also holds what supervisors of such children share: :func:`free_port`, :func:`group_pss`
(a process group's memory, shared pages counted once) and :func:`name_process` (what ``ps``/``top`` call a forked child).

This module imports only the standard library, and little of it: the launcher runs it under
``python -S`` (no site-packages, so it starts in a few milliseconds) from the folder that holds this
package.
"""

from __future__ import annotations

import os
import sys

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PR_SET_NAME = 15
SIGTERM = 15  # signal.SIGTERM on Linux, the one system with PR_SET_PDEATHSIG (importing signal slows the launcher)


def available_cpus() -> int:
    """How many CPUs this process may run on (its affinity mask where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def die_with_parent(sig: int = SIGTERM, parent: int | None = None) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False where it cannot (not Linux).

    A parent that died before the request took effect sends nothing, so check then: when this process
    has been handed to another parent already — not ``parent`` any more (the pid of the process that
    started it, when known), else init (pid 1) — it exits at once (``SystemExit(0)``).
    """
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig))
    except (OSError, AttributeError):
        return False  # no prctl: the parent's own shutdown still stops its children
    orphaned = os.getppid() != parent if parent is not None else os.getppid() == 1
    if orphaned:
        sys.exit(0)
    return True


def name_process(name: str) -> None:
    """Name this process for ``ps -o comm``, ``top`` and ``psutil.Process.name()`` (at most 15 bytes kept).

    A forked child keeps its parent's command line, so a template's instances and an instance's workers
    would all look like the template; this says which is which. Best effort: no prctl, no name."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def launch(argv: list[str]) -> None:
    """The launcher's body: ``argv`` is ``[PARENT_PID, COMMAND, ARGS...]``; SIGTERM on the parent's death, then exec."""
    die_with_parent(SIGTERM, parent=int(argv[0]))
    os.execv(argv[1], argv[1:])


# ``python -S -c LAUNCHER PARENT_PID COMMAND...``: finds this package by path (no site-packages under -S).
# (os.path, not pathlib: the launcher imports this module, and pathlib would cost it milliseconds.)
LAUNCHER = (
    "import sys\n"
    f"sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r})\n"
    "from modelport.process import launch\n"
    "launch(sys.argv[1:])"
)


def stop_all(processes: list, grace: float) -> None:
    """SIGTERM every process still running, then SIGKILL those still running ``grace`` seconds later.

    One deadline for all of them, so stopping N children takes at most ``grace`` seconds, not N times it.
    """
    import subprocess  # here, not at the top: the launcher imports this module under python -S
    import time

    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def signal_group(leader: int, sig: int, *, reaped: bool = False) -> None:
    """Send ``sig`` to the process group that ``leader`` leads, or to ``leader`` alone when it has no group
    yet (a forked child a moment before its ``setsid()``); a process already gone is not an error.

    ``reaped``: the caller already waited for ``leader``. Its workers may still hold the group, but the pid
    alone may belong to another process by now, so it is never signalled on its own.
    """
    try:
        os.killpg(leader, sig)
    except ProcessLookupError:
        if reaped:
            return
        try:
            os.kill(leader, sig)
        except (ProcessLookupError, PermissionError):
            pass
    except PermissionError:
        pass


PORT_IN_USE_EXIT = 98
"""Exit code of a runtime whose port was taken (EADDRINUSE is 98 on Linux): free_port() closes the port it
found before the child binds it, so another program can take it in between; the parent then starts the
child again on another port, up to PORT_ATTEMPTS starts in all."""
PORT_ATTEMPTS = 5


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    import socket  # here, not at the top: the launcher imports this module under python -S

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_pss(pgid: int) -> int:
    """Memory of every process in process group ``pgid``, in bytes (0 if none is left): the sum of their
    proportional set sizes (``Pss`` of ``/proc/PID/smaps_rollup``), which counts a page shared by n processes
    as 1/n in each. Summed RSS would count it n times: forked workers share most of their template's pages.
    A process whose smaps_rollup cannot be read counts its RSS."""
    page_bytes = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # it exited meanwhile
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # from field 3 (state) on; the name may hold spaces
        if len(fields) > 21 and int(fields[2]) == pgid:
            total += _pss(entry.name) or int(fields[21]) * page_bytes
    return total


def _pss(pid: str) -> int:
    """A process's proportional set size in bytes, or 0 when /proc does not say."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
