"""Starting processes by ``fork`` without ``exec``: what a forked child must reset, in one place, and a
``Popen``-like handle for a forked child.

Hosting's instance templates (:mod:`modelport.runtime.template`) fork instances, and a forked instance's
supervisor forks its workers, so neither pays Python's start-up and the imports of numpy, scikit-learn or
torch again. A forked child starts as a copy of its parent, so before it runs anything it:

- forgets the parent's signal handlers, its event loop's wakeup fd (a signal in the child would
  otherwise be written into the parent's loop) and the event loop marked as running in this thread;
- draws fresh random seeds (Python's ``random`` reseeds itself after fork; numpy's and torch's global
  generators do not), so two instances never share a random sequence;
- applies the thread limits of its own environment (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
  ``MKL_NUM_THREADS``) to the native thread pools already loaded, and torch's intra-op threads.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Callable, NoReturn

RESET_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGCHLD, signal.SIGHUP, signal.SIGPIPE)
THREAD_LIMIT_KEYS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def reset_after_fork() -> None:
    """In a freshly forked child: drop the parent's signal handling and running event loop; collect garbage
    (a template forks with the collector off)."""
    import gc

    gc.enable()
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:  # not the main thread: nothing was set
        pass
    for signum in RESET_SIGNALS:
        signal.signal(signum, signal.SIG_IGN if signum == signal.SIGPIPE else signal.SIG_DFL)
    import asyncio

    asyncio.events._set_running_loop(None)  # the parent's loop is not running here


def reseed() -> None:
    """New random seeds for the global generators the parent may have loaded (numpy, torch)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.seed()


def take_environment(environ: dict[str, str]) -> None:
    """In a forked child: make ``environ`` this process's whole environment (settings objects built from
    now on read it), draw new random seeds and apply the thread limits it asks for."""
    os.environ.clear()
    os.environ.update(environ)
    reseed()
    apply_thread_limits(environ)


def apply_thread_limits(environ: dict[str, str]) -> None:
    """Give the native thread pools already loaded the sizes this process's environment asks for."""
    limits = {}
    for key in THREAD_LIMIT_KEYS:
        value = (environ.get(key) or "").strip()
        if value.isdigit() and int(value) > 0:
            limits[key] = int(value)
    if not limits:
        return
    size = min(limits.values())
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=size)
    except ImportError:
        pass
    torch = sys.modules.get("torch")
    if torch is not None and "OMP_NUM_THREADS" in limits:
        torch.set_num_threads(limits["OMP_NUM_THREADS"])


def threads() -> int:
    """This process's threads, native ones included (a process forks safely only when it has one)."""
    return len(os.listdir("/proc/self/task"))


def detach(log_fd: int | None = None) -> None:
    """In a freshly forked child: its own session and process group (stopping it is ``killpg``), stdin from
    /dev/null, stdout/stderr on ``log_fd`` (None: keep the parent's) and every other inherited fd closed."""
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    if log_fd is not None:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
    close_fds_except(set())


def close_fds_except(keep: set[int]) -> None:
    """Close every file descriptor above stderr that is not in ``keep``."""
    low = 3
    for fd in sorted(fd for fd in keep if fd > 2) + [None]:
        high = fd if fd is not None else os.sysconf("SC_OPEN_MAX")
        if high > low:
            os.closerange(low, high)
        if fd is not None:
            low = fd + 1


def run_forked(body: Callable[[], int]) -> NoReturn:
    """In a forked child: run ``body`` and exit with its code, never returning into the parent's code (its
    event loop, its request loop). An exception is printed to stderr (the instance's log) and exits 1."""
    code = 1
    try:
        code = body()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report it where a new process would have printed it
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


class ForkedChild:
    """A child made with ``os.fork()`` by this process, with the part of ``subprocess.Popen`` the
    supervisor uses: ``pid``, ``returncode``, ``poll``, ``wait``, ``terminate``, ``kill``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs."""
        if self.returncode is None:
            self._reap(os.WNOHANG)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait until it exits; ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        import subprocess

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.01)
        return self.returncode

    def terminate(self) -> None:
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` unless it has exited already."""
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def _reap(self, flags: int) -> None:
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            self.returncode = -1  # reaped elsewhere: it is gone, its status unknown
            return
        if pid:
            self.returncode = os.waitstatus_to_exitcode(status)
