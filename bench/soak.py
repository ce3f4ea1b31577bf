"""Soak: the whole local stack under steady load for a long time, with a stream of bad requests beside it.

`modelport up` (gateway → hosting → runtime, every bundled endpoint) is driven through the gateway at a
fraction (default 70%) of the capacity measured at the start, for `--minutes` (default 10), in segments of
one minute, while a second client sends only malformed or refused requests. Bars, checked at the end:

- zero unexpected answers: every good request gets 2xx, every bad one a 4xx, no socket errors;
- p99 latency of the last segment within 1.5x the first;
- resident memory of every stack process grows less than 10% from after the warm-up to the end;
- no file descriptors leaked: once the load has stopped, no process holds a socket its peer has closed
  (CLOSE_WAIT, the mark of a connection nobody closes) and none holds more non-socket descriptors (files,
  pipes) than after the warm-up; open keep-alive connections in pools are counted but allowed to vary.

    .venv/bin/python bench/soak.py [--minutes 10 | --seconds 30] [--fraction 0.7] [--full] [--home DIR]

By default the stack's home is bench/.work/soak-home and its models are the `--fast` ones (training
them takes seconds; `--full` trains the full-size models once, about 15 minutes). The report goes to
bench/results/soak-<stamp>.json (`--out` to choose), a summary to stdout; the exit code is 1 when a bar
is missed. Needs wrk. `make -C bench soak` runs the 10-minute version; `make test` runs a 30-second one.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from benchlib.processes import free_port  # noqa: E402
from benchlib.processes import stop_servers_on_sigterm  # noqa: E402

MIX_LUA = HERE / "wrk" / "mix.lua"
GOOD_CONNECTIONS = 16
BAD_CONNECTIONS = 2
BAD_SHARE = 0.05  # bad requests per good request
P99_GROWTH_BAR = 1.5
RSS_GROWTH_BAR = 0.10

# A drawn "1": a vertical bar of ink in the middle of the 28 x 28 field.
DIGIT = [1.0 if 12 <= i % 28 <= 15 and 4 <= i // 28 <= 23 else 0.0 for i in range(784)]
GOOD_REQUESTS = [
    ("/predict/mnist-sklearn", "application/json", {"pixels": DIGIT}),
    ("/predict/mnist-pytorch", "application/json", {"pixels": DIGIT}),
    ("/predict/sentiment", "application/json", {"text": "what a wonderful day, I loved every minute"}),
    ("/predict/sentiment", "application/json", {"instances": ["the service was slow and rude", "see you at 10"]}),
    ("/predict/mnist-sklearn", "application/json", {"instances": [DIGIT, DIGIT[::-1]]}),
]
CHAT_REQUESTS = [  # slow (a transformer generating tokens): a client of their own at a low, fixed rate
    ("/chat", "application/json", {"messages": [{"role": "user", "content": "hi there"}], "maxTokens": 8}),
    ("/chat", "application/json", {"messages": [{"role": "user", "content": "tell me more"}], "maxTokens": 8,
                                   "stream": True}),
]
CHAT_DELAY_MS = 250
BAD_REQUESTS = [  # each must be refused with a 4xx: (path, content type, raw body)
    ("/predict/mnist-sklearn", "application/json", b'{"pixels": [0.5, 0.5'),
    ("/predict/mnist-sklearn", "application/json", b'{"pixels": [0.5]}'),
    ("/predict/mnist-pytorch", "application/json", b'{"pixels": "abc"}'),
    ("/predict/sentiment", "application/json", b'{"text": 5}'),
    ("/predict/sentiment", "text/plain", b"hello"),
    ("/predict/no-such-model", "application/json", b'{"text": "x"}'),
    ("/chat", "application/json", b'{"messages": [{"role": "system", "content": "x"}]}'),
    ("/invoke/not-allowed-endpoint", "application/json", b"{}"),
]


@dataclass
class Segment:
    """One segment of the soak: what the good and the bad client saw."""

    index: int
    seconds: float
    good_requests: int
    good_per_s: float
    good_p50_ms: float
    good_p99_ms: float
    good_unexpected: int
    good_socket_errors: int
    bad_requests: int
    bad_unexpected: int
    bad_socket_errors: int
    chat_requests: int
    chat_p99_ms: float
    chat_unexpected: int
    chat_socket_errors: int
    unexpected_statuses: str = ""


@dataclass
class ProcessSample:
    """Memory and open files of one stack process."""

    pid: int
    role: str
    rss_mb: float
    fds: int
    sockets: int
    close_wait: int


@dataclass
class Report:
    """Everything one soak run measured, and its verdict."""

    started: str
    machine: dict
    models: str
    fraction: float
    capacity_per_s: float
    target_per_s: float
    segments: list[Segment] = field(default_factory=list)
    before: list[ProcessSample] = field(default_factory=list)
    after: list[ProcessSample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def modelport(home: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run the modelport CLI with this home."""
    env = {**os.environ, "MODELPORT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "modelport", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def start_stack(home: Path, full: bool) -> dict:
    """`modelport up --detach` on free ports; returns the stack record (pids, URLs)."""
    home.mkdir(parents=True, exist_ok=True)
    args = ["up", "--detach", "--port", str(free_port()), "--hosting-port", str(free_port())]
    if not full:
        args.append("--fast")
    started = time.monotonic()
    done = modelport(home, *args)
    if done.returncode != 0:
        raise RuntimeError(f"modelport up failed:\n{done.stdout}\n{done.stderr}")
    record = json.loads((home / "stack.json").read_text())
    print(f"stack up in {time.monotonic() - started:.0f} s: gateway {record['gateway']}", flush=True)
    return record


def write_manifest(folder: Path, requests: list[tuple[str, str, object]]) -> Path:
    """Write each request body to a file and a manifest line per request for mix.lua."""
    lines = []
    number = len(list(folder.glob("manifest-*")))
    for i, (path, content_type, body) in enumerate(requests):
        body_file = folder / f"body-{number}-{i}.bin"
        body_file.write_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())
        lines.append(f"POST {path} {content_type} {body_file}")
    manifest = folder / f"manifest-{number}.txt"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def wrk(url: str, manifest: Path, connections: int, seconds: float, delay_ms: float, low: int, high: int) -> subprocess.Popen:
    """Start one wrk client (one thread) over the manifest's requests."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s",
               "-s", str(MIX_LUA), url, "--", str(manifest), f"{delay_ms:.3f}", str(low), str(high)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summary_of(process: subprocess.Popen, seconds: float) -> dict:
    """Wait for a wrk client and parse its JSON summary line."""
    out, err = process.communicate(timeout=seconds + 60)
    line = next((l for l in out.splitlines() if l.startswith("WRK_JSON ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {process.returncode}): {err.strip() or out.strip()}")
    raw = json.loads(line[len("WRK_JSON "):])
    raw["socket_errors"] = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    raw["per_s"] = raw["requests"] / (raw["duration_us"] / 1e6)
    return raw


def stack_processes(record: dict) -> list[psutil.Process]:
    """The stack process and everything it started (hosting, gateway, model servers and their workers)."""
    root = psutil.Process(int(record["pid"]))
    return [root, *root.children(recursive=True)]


# forked processes keep their template's command line; their process name says what they are
FORKED_ROLES = {"mp-worker": "runtime worker", "mp-instance": "runtime supervisor", "mp-target": "runtime supervisor",
                "mp-template": "template"}


def role_of(process: psutil.Process) -> str:
    """A short name for what a stack process does, from its process name or its command line."""
    if process.name() in FORKED_ROLES:
        return FORKED_ROLES[process.name()]
    command = " ".join(process.cmdline())
    for needle, role in (("runtime.worker", "runtime worker"), ("modelport.runtime", "runtime supervisor"),
                         ("modelport.stack.services", "hosting and gateway"),  # one process under `up`
                         (" hosting", "hosting"), (" gateway", "gateway"), (" up", "stack")):
        if needle in command:
            return role
    return "launcher"


def sample(record: dict) -> list[ProcessSample]:
    """Memory and open file descriptors of every stack process now."""
    out = []
    for process in stack_processes(record):
        try:
            with process.oneshot():
                sockets = process.net_connections(kind="all")
                out.append(ProcessSample(process.pid, role_of(process), round(process.memory_info().rss / 2**20, 1),
                                         process.num_fds(), len(sockets),
                                         sum(1 for s in sockets if s.status == psutil.CONN_CLOSE_WAIT)))
        except psutil.NoSuchProcess:
            continue
    return out


def run_segment(index: int, url: str, manifests: dict[str, Path], seconds: float, good_delay: float,
                bad_delay: float) -> Segment:
    """Drive the three clients (predictions, chat, bad requests) for one segment, side by side."""
    good_client = wrk(url, manifests["good"], GOOD_CONNECTIONS, seconds, good_delay, 200, 299)
    chat_client = wrk(url, manifests["chat"], 1, seconds, CHAT_DELAY_MS, 200, 299)
    bad_client = wrk(url, manifests["bad"], BAD_CONNECTIONS, seconds, bad_delay, 400, 499)
    g, c, b = (summary_of(client, seconds) for client in (good_client, chat_client, bad_client))
    return Segment(index=index, seconds=round(g["duration_us"] / 1e6, 2), good_requests=g["requests"],
                   good_per_s=round(g["per_s"], 1), good_p50_ms=g["p50_us"] / 1000, good_p99_ms=g["p99_us"] / 1000,
                   good_unexpected=g["unexpected"], good_socket_errors=g["socket_errors"],
                   bad_requests=b["requests"], bad_unexpected=b["unexpected"], bad_socket_errors=b["socket_errors"],
                   chat_requests=c["requests"], chat_p99_ms=c["p99_us"] / 1000, chat_unexpected=c["unexpected"],
                   chat_socket_errors=c["socket_errors"],
                   unexpected_statuses=" ".join(x["unexpected_statuses"] for x in (g, c, b)).strip())


def verdict(report: Report) -> list[str]:
    """The bars this run missed (empty when it passed)."""
    failures = []
    for s in report.segments:
        sockets = s.good_socket_errors + s.chat_socket_errors + s.bad_socket_errors
        if s.good_unexpected or s.chat_unexpected or s.bad_unexpected or sockets:
            failures.append(f"segment {s.index}: {s.good_unexpected + s.chat_unexpected} good requests answered "
                            f"outside 2xx, {s.bad_unexpected} bad ones outside 4xx, {sockets} socket errors "
                            f"(statuses seen: {s.unexpected_statuses or 'none'})")
    first, last = report.segments[0], report.segments[-1]
    if last.good_p99_ms > P99_GROWTH_BAR * first.good_p99_ms:
        failures.append(f"p99 grew from {first.good_p99_ms:.2f} ms to {last.good_p99_ms:.2f} ms "
                        f"(bar: within {P99_GROWTH_BAR}x)")
    before = {p.pid: p for p in report.before}
    for now in report.after:
        then = before.get(now.pid)
        if then is None:
            failures.append(f"{now.role} pid {now.pid} was not there after the warm-up (a process restarted)")
            continue
        if now.rss_mb > then.rss_mb * (1 + RSS_GROWTH_BAR):
            failures.append(f"{now.role} pid {now.pid}: RSS {then.rss_mb} → {now.rss_mb} MiB "
                            f"(bar: < {RSS_GROWTH_BAR:.0%} growth)")
        if now.close_wait:
            failures.append(f"{now.role} pid {now.pid}: {now.close_wait} sockets in CLOSE_WAIT (closed by their "
                            f"peer, never by this process)")
        if now.fds - now.sockets > then.fds - then.sockets:
            failures.append(f"{now.role} pid {now.pid}: {then.fds - then.sockets} → {now.fds - now.sockets} "
                            f"open non-socket file descriptors")
    missing = set(before) - {p.pid for p in report.after}
    failures += [f"{before[pid].role} pid {pid} died during the soak" for pid in sorted(missing)]
    return failures


def soak(url: str, record: dict, total_seconds: float, segment_seconds: float, fraction: float,
         models: str, workdir: Path) -> Report:
    """Calibrate, warm up, then run the segments; returns the report with its verdict."""
    manifests = {name: write_manifest(workdir, requests)
                 for name, requests in (("good", GOOD_REQUESTS), ("chat", CHAT_REQUESTS), ("bad", BAD_REQUESTS))}
    calibration = min(10.0, max(3.0, segment_seconds / 2))
    # capacity: the good mix as fast as it goes (no delay), then the paced load starts from the target
    capacity = summary_of(wrk(url, manifests["good"], GOOD_CONNECTIONS, calibration, 0, 200, 299), calibration)["per_s"]
    target = fraction * capacity
    good_delay = GOOD_CONNECTIONS * 1000 / target
    bad_delay = BAD_CONNECTIONS * 1000 / max(1.0, target * BAD_SHARE)
    report = Report(started=time.strftime("%Y-%m-%d %H:%M:%S"), machine=machine(), models=models,
                    fraction=fraction, capacity_per_s=round(capacity, 1), target_per_s=round(target, 1))
    print(f"capacity {capacity:.0f} req/s; soaking at {target:.0f} req/s ({fraction:.0%}) for {total_seconds:g} s",
          flush=True)
    # warm-up at the target rate fills every connection pool; the "before" sample follows it
    warm = run_segment(0, url, manifests, calibration, good_delay, bad_delay)
    good_delay = max(0.0, good_delay * warm.good_per_s / target)  # the delay excludes latency: correct once
    time.sleep(1.0)
    report.before = sample(record)
    count = max(1, round(total_seconds / segment_seconds))
    for index in range(1, count + 1):
        segment = run_segment(index, url, manifests, segment_seconds, good_delay, bad_delay)
        report.segments.append(segment)
        print(f"  segment {index}/{count}: {segment.good_per_s:.0f} req/s p50 {segment.good_p50_ms:.2f} ms "
              f"p99 {segment.good_p99_ms:.2f} ms; chat {segment.chat_requests} (p99 {segment.chat_p99_ms:.0f} ms); "
              f"bad {segment.bad_requests}; unexpected "
              f"{segment.good_unexpected + segment.chat_unexpected + segment.bad_unexpected}", flush=True)
    time.sleep(2.0)  # let clients' connections close before counting descriptors
    report.after = sample(record)
    report.failures = verdict(report)
    return report


def machine() -> dict:
    """What ran the soak."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_before": os.getloadavg()[0]}


def print_summary(report: Report) -> None:
    """A short table of the run and its verdict."""
    first, last = report.segments[0], report.segments[-1]
    good = sum(s.good_requests for s in report.segments)
    bad = sum(s.bad_requests for s in report.segments)
    print(f"\nsoak: {good} good + {bad} bad requests at {statistics.mean(s.good_per_s for s in report.segments):.0f} "
          f"req/s (target {report.target_per_s:.0f}, capacity {report.capacity_per_s:.0f})")
    print(f"  p99 first {first.good_p99_ms:.2f} ms, last {last.good_p99_ms:.2f} ms")
    after = {p.pid: p for p in report.after}
    for then in report.before:
        now = after.get(then.pid)
        if now is not None:
            print(f"  {then.role:<18} pid {then.pid:<7} RSS {then.rss_mb:>7.1f} → {now.rss_mb:>7.1f} MiB   "
                  f"fds {then.fds} → {now.fds} (sockets {then.sockets} → {now.sockets}, CLOSE_WAIT {now.close_wait})")
    print("PASS" if not report.failures else "FAIL:\n  " + "\n  ".join(report.failures))


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="how long to soak (default 10)")
    length.add_argument("--seconds", type=float, help="how long to soak, in seconds")
    parser.add_argument("--segment", type=float, help="seconds per segment (default 60, or a third of a short run)")
    parser.add_argument("--fraction", type=float, default=0.7, help="share of the measured capacity to send")
    parser.add_argument("--full", action="store_true", help="full-size models instead of --fast ones")
    parser.add_argument("--home", type=Path, default=HERE / ".work" / "soak-home", help="MODELPORT_HOME of the stack")
    parser.add_argument("--out", type=Path, help="report file (default bench/results/soak-<stamp>.json)")
    args = parser.parse_args(argv)
    total = args.seconds if args.seconds is not None else 60 * (args.minutes or 10)
    segment = args.segment or min(60.0, total / 3)
    home = args.home.resolve()
    record = start_stack(home, args.full)
    try:
        with tempfile.TemporaryDirectory(prefix="modelport-soak-") as workdir:
            report = soak(record["gateway"], record, total, segment, args.fraction,
                          "full" if args.full else "fast", Path(workdir))
    finally:
        modelport(home, "down", timeout=120)
    out = args.out or HERE / "results" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(asdict(report), indent=2) + "\n")
    print_summary(report)
    print(f"report: {out}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
