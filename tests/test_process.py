"""Process groups: memory of pages shared by forked processes is counted once, not once per process; a signal
to a group whose leader was reaped never reaches whatever process now has the leader's pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from modelport.process import group_pss, signal_group

# A parent touches 200 MB, then forks three children that only read it: four processes share one copy.
SHARING_GROUP = """
import os, sys, time
block = bytearray(200 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1
for _ in range(3):
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
print("ready", flush=True)
time.sleep(60)
"""


def summed_rss(pgid: int) -> int:
    """Resident bytes of every process in the group, each counted in full (what the budget must not use)."""
    total = 0
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return total


def test_group_pss_counts_pages_shared_by_forked_processes_once():
    group = subprocess.Popen([sys.executable, "-c", SHARING_GROUP], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert group.stdout.readline().strip() == "ready"
        time.sleep(0.2)  # the children have forked and run
        pss, rss = group_pss(group.pid), summed_rss(group.pid)
        assert 200 * 2**20 < pss < 300 * 2**20, pss  # one copy of the block, plus four small interpreters
        assert rss > 3 * 200 * 2**20, rss  # summed RSS counts the block in every process
    finally:
        os.killpg(group.pid, signal.SIGKILL)
        group.wait()
    deadline = time.monotonic() + 10
    while group_pss(group.pid) and time.monotonic() < deadline:  # killed children are torn down meanwhile
        time.sleep(0.05)
    assert group_pss(group.pid) == 0  # nothing left of the group


def test_a_reaped_leader_s_pid_alone_is_never_signalled():
    # A live process that leads no group stands for "the pid the reaped leader had, now another process's".
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        signal_group(bystander.pid, signal.SIGKILL, reaped=True)
        time.sleep(0.2)
        assert bystander.poll() is None, "a reaped leader's pid was signalled on its own"
        signal_group(bystander.pid, signal.SIGKILL)  # not reaped: a child before its setsid() is signalled alone
        assert bystander.wait(timeout=10) == -signal.SIGKILL
    finally:
        bystander.kill()
        bystander.wait()
