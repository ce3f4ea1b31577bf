"""Turn a results dict into the console table, the bar verdict and the README table."""
from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import endurance

BAR_RATIO = 1.2
BAR_P50_C1_MS = 0.25
README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


def _best_peer(results: dict, concurrency: int, peers: list[str]) -> tuple[str | None, float]:
    best_name, best = None, 0.0
    for name in peers:
        entry = results["servers"].get(name)
        if not entry or not entry.get("ok"):
            continue
        point = next((p for p in entry["points"] if p["concurrency"] == concurrency), None)
        if point and point["requests_per_s"] > best:
            best_name, best = name, point["requests_per_s"]
    return best_name, best


def bar_verdict(results: dict, peers: list[str]) -> dict:
    """modelport vs the best peer at each concurrency, p50 at c=1, errors: the issue's bar."""
    entry = results["servers"].get("modelport")
    if not entry or not entry.get("ok"):
        return {"evaluated": False, "met": False, "reasons": ["modelport was not measured successfully"]}
    reasons, checks = [], []
    measured_peers = [p for p in peers if results["servers"].get(p, {}).get("ok")]
    for point in entry["points"]:
        c = point["concurrency"]
        best_name, best = _best_peer(results, c, peers)
        ratio = point["requests_per_s"] / best if best else None
        ok = ratio is not None and ratio >= BAR_RATIO
        checks.append({"concurrency": c, "best_peer": best_name, "best_peer_rps": best,
                       "modelport_rps": point["requests_per_s"], "ratio": round(ratio, 2) if ratio else None,
                       "ok": ok})
        if not ok:
            reasons.append(f"c={c}: {point['requests_per_s']:.0f} req/s is "
                           f"{ratio:.2f}x {best_name}" if ratio else f"c={c}: no peer measured")
    p1 = next((p for p in entry["points"] if p["concurrency"] == 1), None)
    p50_ok = p1 is not None and p1["p50_ms"] < BAR_P50_C1_MS
    if not p50_ok:
        reasons.append(f"p50 at c=1 is {p1['p50_ms']:.3f} ms (bar < {BAR_P50_C1_MS} ms)" if p1
                       else "c=1 not measured")
    errors = sum(p["errors"] for p in entry["points"])
    if errors:
        reasons.append(f"{errors} errors")
    missing = [p for p in peers if p not in measured_peers]
    if missing:
        reasons.append("peers not measured in this run: " + ", ".join(missing))
    met = not reasons
    return {"evaluated": True, "met": met, "checks": checks, "p50_c1_ok": p50_ok, "errors": errors,
            "peers_compared": measured_peers, "reasons": reasons}


def _rows(results: dict, order: list[str]):
    """Yield (server title, first row?, point or None, entry) in display order."""
    for name in order:
        entry = results["servers"].get(name)
        if entry is None:
            continue
        if not entry.get("ok"):
            yield name, entry, None, True
            continue
        for i, point in enumerate(entry["points"]):
            yield name, entry, point, i == 0


def _vs_best(results: dict, name: str, point: dict, peers: list[str]) -> str:
    _, best = _best_peer(results, point["concurrency"], [p for p in peers if p != name])
    return f"{point['requests_per_s'] / best:.2f}x" if best else "-"


def busiest_other(results: dict) -> float:
    """The most CPU (in cores) that other work took during any measured point of the run."""
    return max((p.get("other_cores", 0.0) for e in results["servers"].values() if e.get("ok")
                for p in e["points"]), default=0.0)


def _others(point: dict) -> str:
    value = point.get("other_cores")
    return "" if value is None else f"{value:.2f}"


def print_table(results: dict, order: list[str], peers: list[str], console: Console) -> None:
    """The results as a rich table, then the bar verdict."""
    table = Table(title=f"one-row JSON predict_proba, wrk -t1, {rounds_phrase(results['settings'])}"
                        f"{results['settings']['duration_s']:g} s per point")
    for column in ("server", "c", "req/s", "vs best peer", "p50 ms", "p99 ms", "errors", "RSS MiB",
                   "PSS MiB", "cold start s", "others' CPU"):
        table.add_column(column, justify="left" if column == "server" else "right")
    for name, entry, point, first in _rows(results, order):
        title = entry["title"] if first else ""
        if point is None:
            table.add_row(title, "", "[red]failed[/red]", "", "", "", "", "", "", "", "")
            continue
        mem = entry.get("memory_peak", {})
        table.add_row(
            title, str(point["concurrency"]), f"{point['requests_per_s']:,.0f}",
            _vs_best(results, name, point, peers), f"{point['p50_ms']:.3f}", f"{point['p99_ms']:.3f}",
            str(point["errors"]) if not point["errors"] else f"[red]{point['errors']}[/red]",
            f"{mem.get('rss_mib', 0):.0f}" if first else "", f"{mem.get('pss_mib', 0):.0f}" if first else "",
            f"{entry['cold_start_s']:.2f}" if first else "", _others(point))
    console.print(table)
    if endurance.summary(results, order):
        console.print(endurance.summary(results, order))
    console.print("others' CPU: cores busy with work other than this server, wrk and the runner during the point "
                  "(0 = quiet machine)")
    for name in order:
        entry = results["servers"].get(name)
        if entry and not entry.get("ok"):
            console.print(f"[red]{entry['title']} failed:[/red] {entry.get('error')}")
    verdict = results.get("bar", {})
    if verdict.get("evaluated"):
        if verdict["met"]:
            console.print(f"[bold green]BAR MET[/bold green]: modelport >= {BAR_RATIO}x the best peer at every "
                          f"concurrency, p50 at c=1 < {BAR_P50_C1_MS} ms, no errors")
        else:
            console.print("[bold red]BAR NOT MET[/bold red]: " + "; ".join(verdict["reasons"]))
    else:
        console.print("[yellow]bar not evaluated[/yellow]: " + "; ".join(verdict.get("reasons", [])))


def rounds_phrase(settings: dict) -> str:
    """"median of 3 rounds of " for a run of several rounds (older results files have no rounds: one)."""
    count = settings.get("rounds", 1)
    return f"median of {count} rounds of " if count > 1 else ""


def markdown_table(results: dict, order: list[str], peers: list[str]) -> str:
    """The results as a Markdown table with a short header (load, settings, verdict)."""
    settings, machine = results["settings"], results["machine"]
    lines = [
        f"Run `{results['run_id']}` ({results['started_utc']} UTC) on {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB, Linux {machine['kernel']}; {rounds_phrase(settings)}{settings['duration_s']:g} s per point after "
        f"{settings['warmup_s']:g} s warm-up; load average at start {results['load_start']}, at end "
        f"{results['load_end']}. The bare work in one process (json.loads + predict_proba + json.dumps, "
        f"no server) takes {results['bare_work']['p50_ms']:.3f} ms (median)."
        + " \"others' CPU\" is the cores taken by other work on the machine during each point."
        + (" **Other work on the machine took ≥ 0.25 cores during some points: those numbers are noisy.**"
           if busiest_other(results) >= 0.25 else ""),
        "",
        "| server | c | req/s | vs best peer | p50 ms | p99 ms | errors | RSS MiB | PSS MiB | cold start s | others' CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, entry, point, first in _rows(results, order):
        title = entry["title"] if first else ""
        if point is None:
            lines.append(f"| {title} | | failed: {entry.get('error', '')[:120]} | | | | | | | | |")
            continue
        mem = entry.get("memory_peak", {})
        lines.append(
            f"| {title} | {point['concurrency']} | {point['requests_per_s']:,.0f} | "
            f"{_vs_best(results, name, point, peers)} | {point['p50_ms']:.3f} | {point['p99_ms']:.3f} | "
            f"{point['errors']} | {mem.get('rss_mib', 0):.0f} | {mem.get('pss_mib', 0):.0f} | "
            f"{entry['cold_start_s']:.2f} | {_others(point)} |" if first else
            f"| | {point['concurrency']} | {point['requests_per_s']:,.0f} | "
            f"{_vs_best(results, name, point, peers)} | {point['p50_ms']:.3f} | {point['p99_ms']:.3f} | "
            f"{point['errors']} | | | | {_others(point)} |")
    verdict = results.get("bar", {})
    lines.append("")
    if verdict.get("evaluated"):
        lines.append("Bar (modelport ≥ 1.2x the best peer at every concurrency, p50 at c=1 < 0.25 ms, no errors): "
                     + ("**met**." if verdict["met"] else "**not met** — " + "; ".join(verdict["reasons"]) + "."))
    else:
        lines.append("Bar not evaluated: " + "; ".join(verdict.get("reasons", [])) + ".")
    versions = []
    for name in order:
        entry = results["servers"].get(name)
        if entry:
            versions.append(f"{entry['title']}: " + ", ".join(f"{k} {v}" for k, v in entry["versions"].items()))
    memory = endurance.summary(results, order)
    lines += ["", memory] if memory else []
    lines += ["", "Versions: " + "; ".join(versions) + f"; {results['tools']['wrk']}; {machine['java']}."]
    return "\n".join(lines)


def update_readme(readme: Path, table: str) -> None:
    """Replace the text between the results markers in bench/README.md."""
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.S)
    block = f"{README_START}\n{table}\n{README_END}"
    if not pattern.search(text):
        raise ValueError(f"{readme} has no {README_START} ... {README_END} markers")
    readme.write_text(pattern.sub(lambda _: block, text))
