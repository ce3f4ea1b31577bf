"""Hosting as a child subreaper: instances forked by a template are adopted by hosting, which waits for
them as for its own children.

Linux hands an orphan to its nearest ancestor that asked for it (``PR_SET_CHILD_SUBREAPER``). A template
forks each instance through a child that exits at once, so the instance's parent becomes hosting: killing
the template leaves instances running, and hosting reads their exit codes (``waitpid``) when a pidfd says
they exited. The same makes hosting the parent of any orphaned worker of an instance it killed, so after
an instance exits hosting reaps what is left of its process group (:func:`reap_group`).
"""

from __future__ import annotations

import asyncio
import ctypes
import os

PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>
PR_GET_CHILD_SUBREAPER = 37
REAP_SECONDS = 10.0  # how long hosting waits for the rest of an exited instance's process group
ADOPTION_SECONDS = 5.0  # an exited instance not (yet) hosting's child after this is reported as code -1


def _prctl(option: int, value: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0)


def _is_subreaper() -> bool:
    flag = ctypes.c_int(0)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) == 0 and bool(flag.value)
    except (OSError, AttributeError):
        return False


def _set_subreaper(on: bool) -> bool:
    try:
        return _prctl(PR_SET_CHILD_SUBREAPER, int(on)) == 0
    except (OSError, AttributeError):
        return False


_holders = 0  # hostings in this process that need it (tests and notebooks may run several)
_was_subreaper = False


def acquire_subreaper() -> bool:
    """Make this process adopt its descendants' orphans, for one more hosting; False where Linux cannot
    (then nothing is held)."""
    global _holders, _was_subreaper
    if _holders == 0:
        _was_subreaper = _is_subreaper()
        if not (_was_subreaper or _set_subreaper(True)):
            return False
    _holders += 1
    return True


def release_subreaper() -> None:
    """One hosting no longer needs it; the last one gives it up (unless the process was one before)."""
    global _holders
    _holders -= 1
    if _holders == 0 and not _was_subreaper:
        _set_subreaper(False)


class AdoptedProcess:
    """An instance forked by a template and adopted by hosting: ``pid``, ``returncode`` and ``wait()``, as
    an asyncio subprocess. A pidfd tells the event loop when it exits; ``waitpid`` then reaps it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._exited = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._pidfd = os.pidfd_open(pid)
        self._loop.add_reader(self._pidfd, self._on_exit)

    def _on_exit(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._loop.create_task(self._reap())

    async def _reap(self) -> None:
        deadline = self._loop.time() + ADOPTION_SECONDS
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # not adopted yet (its intermediate parent is exiting)
                pid, status = 0, 0
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                break
            if self._loop.time() > deadline:
                self.returncode = -1
                break
            await asyncio.sleep(0.005)
        self._exited.set()

    async def wait(self) -> int:
        """Its exit code once it has exited (negative: killed by that signal)."""
        await self._exited.wait()
        return self.returncode


async def reap_group(pgid: int) -> None:
    """Reap the exited members of process group ``pgid`` that hosting adopted (workers whose instance died
    before them), until none is left or REAP_SECONDS passed. Call it only once the group's leader was reaped."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REAP_SECONDS
    while loop.time() < deadline:
        try:
            pid, _ = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return  # no child of hosting left in that group
        if not pid:
            await asyncio.sleep(0.05)
