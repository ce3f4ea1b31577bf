"""Turn a results dict into the console table, the bar verdict and the README table."""
from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import endurance

BAR_RATIO = 1.2  # issue 2: unbatched modelport vs the best peer, at every concurrency
BAR_P50_OVER_BARE_MS = 0.03  # issue 15: unbatched p50 at c=1 within this of the bare work (the 0.25 ms bar is retired)
BAR_BATCH_C64_RATIO = 3.0  # issue 15: batching at c=64 vs the best peer's best configuration (FastAPI + orjson counts)
BAR_BATCH_FLOOR_SHARE = 0.5  # issue 15: batching at c=64 vs the HTTP floor
BAR_BATCH_P50_COST_MS = 0.03  # issue 15: what batching may add to p50 at c=1
BATCH_PEERS_EXTRA = ("fastapi-orjson",)  # reference rows that count as peers for the batching bar
README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"
BARS_TEXT = (f"modelport ≥ {BAR_RATIO}x the best peer at every concurrency, unbatched p50 at c=1 within "
             f"{BAR_P50_OVER_BARE_MS} ms of the bare work; with batching at c=64 ≥ {BAR_BATCH_C64_RATIO:g}x the best "
             f"peer's best configuration (FastAPI + orjson included) and ≥ {BAR_BATCH_FLOOR_SHARE:.0%} of the HTTP "
             f"floor, batching costing ≤ {BAR_BATCH_P50_COST_MS} ms of p50 at c=1; no errors")


def _point(results: dict, name: str, concurrency: int) -> dict | None:
    entry = results["servers"].get(name)
    if not entry or not entry.get("ok"):
        return None
    return next((p for p in entry["points"] if p["concurrency"] == concurrency), None)


def _best_peer(results: dict, concurrency: int, peers: list[str]) -> tuple[str | None, float]:
    """The fastest peer at one concurrency, among points without errors (a server answering errors fast is not
    a faster server)."""
    best_name, best = None, 0.0
    for name in peers:
        point = _point(results, name, concurrency)
        if point and point["errors"] == 0 and point["requests_per_s"] > best:
            best_name, best = name, point["requests_per_s"]
    return best_name, best


def bar_verdict(results: dict, peers: list[str]) -> dict:
    """The scikit-learn race's bars (see BARS_TEXT): unbatched modelport vs the best peer at each concurrency and
    its p50 at c=1 against the bare work; modelport with batching at c=64 against the best peer and the floor,
    and its p50 cost at c=1; errors."""
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
                           f"{ratio:.2f}x {best_name}" if ratio else f"c={c}: no peer measured without errors")
    p1 = _point(results, "modelport", 1)
    bare = (results.get("bare_work") or {}).get("p50_ms")
    p50_over_bare = round(p1["p50_ms"] - bare, 3) if p1 and bare is not None else None
    if p50_over_bare is None:
        reasons.append("unbatched p50 at c=1 or the bare work not measured")
    elif p50_over_bare > BAR_P50_OVER_BARE_MS:
        reasons.append(f"unbatched p50 at c=1 is {p1['p50_ms']:.3f} ms, {p50_over_bare:.3f} ms over the bare work "
                       f"(bar ≤ {BAR_P50_OVER_BARE_MS} ms)")
    batching = _batching_checks(results, peers, reasons)
    errors = sum(p["errors"] for p in entry["points"])
    errors += sum(p["errors"] for p in (results["servers"].get("modelport-batch") or {}).get("points", []))
    if errors:
        reasons.append(f"{errors} errors")
    missing = [p for p in peers if p not in measured_peers]
    if missing:
        reasons.append("peers not measured in this run: " + ", ".join(missing))
    return {"evaluated": True, "met": not reasons, "checks": checks, "p50_c1_over_bare_ms": p50_over_bare,
            "batching": batching, "errors": errors, "peers_compared": measured_peers, "reasons": reasons}


def _batching_checks(results: dict, peers: list[str], reasons: list[str]) -> dict | None:
    """Issue 15's batching bars; what fails is added to ``reasons``."""
    batched = _point(results, "modelport-batch", 64)
    if batched is None:
        reasons.append("modelport with batching not measured at c=64")
        return None
    best_name, best = _best_peer(results, 64, [*peers, *BATCH_PEERS_EXTRA])
    floor = _point(results, "floor", 64)
    ratio = batched["requests_per_s"] / best if best else None
    share = batched["requests_per_s"] / floor["requests_per_s"] if floor else None
    if ratio is None or ratio < BAR_BATCH_C64_RATIO:
        reasons.append(f"batching c=64: {ratio:.2f}x {best_name} (bar {BAR_BATCH_C64_RATIO:g}x)" if ratio
                       else "batching c=64: no peer measured")
    if share is None or share < BAR_BATCH_FLOOR_SHARE:
        reasons.append(f"batching c=64: {share:.0%} of the HTTP floor (bar {BAR_BATCH_FLOOR_SHARE:.0%})" if share
                       else "batching c=64: the HTTP floor not measured")
    on, off = _point(results, "modelport-batch", 1), _point(results, "modelport", 1)
    cost = round(on["p50_ms"] - off["p50_ms"], 3) if on and off else None
    if cost is None:
        reasons.append("batching at c=1 not measured (with and without)")
    elif cost > BAR_BATCH_P50_COST_MS:
        reasons.append(f"batching costs {cost:.3f} ms of p50 at c=1 (bar ≤ {BAR_BATCH_P50_COST_MS} ms)")
    return {"best_peer_c64": best_name, "best_peer_c64_rps": best, "modelport_batch_c64_rps": batched["requests_per_s"],
            "ratio_c64": round(ratio, 2) if ratio else None, "floor_share_c64": round(share, 3) if share else None,
            "p50_cost_c1_ms": cost}


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
            console.print(f"[bold green]BARS MET[/bold green]: {BARS_TEXT}")
        else:
            console.print("[bold red]BARS NOT MET[/bold red]: " + "; ".join(verdict["reasons"]))
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
        lines.append(f"Bars ({BARS_TEXT}): "
                     + ("**met**." if verdict["met"] else "**not met** — " + "; ".join(verdict["reasons"]) + "."))
        batching = verdict.get("batching")
        if batching:
            lines.append("")
            lines.append(f"Batching at c=64: {batching['modelport_batch_c64_rps']:,.0f} req/s, "
                         f"{batching['ratio_c64']}x {batching['best_peer_c64']} and {batching['floor_share_c64']:.0%} of "
                         f"the HTTP floor; batching adds {batching['p50_cost_c1_ms']:+.3f} ms of p50 at c=1; unbatched "
                         f"p50 at c=1 is {verdict['p50_c1_over_bare_ms']:+.3f} ms from the bare work.")
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
