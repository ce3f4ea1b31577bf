"""CPU time per request of each modelport process during one wrk run: where a chain spends its cores.

Reads utime + stime of every running modelport process (and wrk) from /proc before and after one wrk
run against URL, and prints microseconds of CPU per request for each kind of process — gateway,
hosting, runtime (supervisor and workers together) — plus all busy CPU on the machine per request
and the idle share. Start the processes first (e.g. `modelport up`, or the setup of gateway_e2e.py).

    .venv/bin/python bench/cpu_per_request.py http://127.0.0.1:8000/predict/mnist-sklearn BODY.json \\
        [--concurrency 16] [--seconds 5]

Example output: c=16 req/s=3060 gateway=181us hosting=102us runtime=270us machine_busy=604us idle=5%
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib.load import run_wrk  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def kind_of(cmdline: str) -> str | None:
    """Which modelport part a process command line belongs to, or None."""
    if "modelport" not in cmdline:
        return None
    if "modelport.stack.services" in cmdline:
        return "hosting+gateway"  # modelport up's one process
    if " gateway" in cmdline or "modelport.gateway" in cmdline:
        return "gateway"
    if " hosting" in cmdline:
        return "hosting"
    if "modelport.runtime" in cmdline or " serve " in cmdline:
        return "runtime"
    return None


def cpu_by_process() -> dict[int, tuple[str, float]]:
    """pid → (kind, CPU seconds so far) for every modelport process now running."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kind = kind_of(cmdline)
        if kind is not None:
            found[int(entry)] = (kind, (int(fields[11]) + int(fields[12])) / TICK)
    return found


def machine_times() -> tuple[float, float]:
    """(all CPU seconds, idle + iowait seconds) of the machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values) / TICK, (values[3] + values[4]) / TICK


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("body", type=Path, help="JSON body file posted on every request")
    parser.add_argument("--concurrency", "-c", type=int, default=16)
    parser.add_argument("--seconds", "-d", type=float, default=5)
    parser.add_argument("--token", default="", help="modelport hosting's token, when URL is hosting's "
                        "(e.g. --token \"$(modelport hosting token)\"); sent as a bearer token")
    options = parser.parse_args()

    before, (total0, idle0) = cpu_by_process(), machine_times()
    point = run_wrk(options.url, options.body, "application/json", options.concurrency, options.seconds,
                    f"Bearer {options.token}" if options.token else "")
    after, (total1, idle1) = cpu_by_process(), machine_times()
    if point.requests == 0:
        print("no requests were answered", file=sys.stderr)
        return 1
    per_kind: dict[str, float] = {}
    for pid, (kind, cpu) in after.items():
        if pid in before:  # a process that started during the run is not counted
            per_kind[kind] = per_kind.get(kind, 0.0) + cpu - before[pid][1]
    busy = (total1 - total0) - (idle1 - idle0)
    parts = " ".join(f"{kind}={seconds / point.requests * 1e6:.0f}us" for kind, seconds in sorted(per_kind.items()))
    print(f"c={options.concurrency} req/s={point.requests_per_s:.0f} errors={point.errors} {parts} "
          f"machine_busy={busy / point.requests * 1e6:.0f}us idle={(idle1 - idle0) / (total1 - total0):.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
