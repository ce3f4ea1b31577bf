"""The PyTorch race's verdict and tables (console and README section).

Issue 15's bars for the CNN, evaluated per body format (JSON rows against JSON rows; .npy rows against the
peers' binary rows, .npy or Triton's binary tensors): modelport with batching at c=64 ≥ 2x the best peer,
at c=1 ≥ 1.5x the best peer, and batching on costing at most 0.03 ms of p50 at c=1 against batching off.
"""
from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .report import rounds_phrase

BAR_C64_RATIO = 2.0
BAR_C1_RATIO = 1.5
BAR_BATCH_P50_MS = 0.03
README_START = "<!-- torch-results:start -->"
README_END = "<!-- torch-results:end -->"
FORMATS = {"json": ("modelport", "modelport-batch"), "npy": ("modelport-npy", "modelport-batch-npy")}


def binary(name: str) -> bool:
    """Whether a server row sends a binary body (.npy or Triton's binary tensors)."""
    return name.endswith(("-npy", "-binary"))


def _point(entry: dict | None, concurrency: int) -> dict | None:
    if not entry or not entry.get("ok"):
        return None
    return next((p for p in entry["points"] if p["concurrency"] == concurrency), None)


def best_peer(results: dict, peers: list[str], concurrency: int, binary_rows: bool) -> tuple[str | None, float]:
    """The fastest peer row of the same body kind at one concurrency: (name, req/s)."""
    best_name, best = None, 0.0
    for name in peers:
        if binary(name) != binary_rows:
            continue
        point = _point(results["servers"].get(name), concurrency)
        if point and point["errors"] == 0 and point["requests_per_s"] > best:
            best_name, best = name, point["requests_per_s"]
    return best_name, best


def bar_verdict(results: dict, peers: list[str]) -> dict:
    """The three bars per format; `met` only when every bar of every measured format holds."""
    formats, reasons = {}, []
    for kind, (plain, batched) in FORMATS.items():
        servers = results["servers"]
        if not servers.get(batched, {}).get("ok"):
            continue
        checks = []
        for concurrency, ratio_bar in ((64, BAR_C64_RATIO), (1, BAR_C1_RATIO)):
            point = _point(servers[batched], concurrency)
            name, best = best_peer(results, peers, concurrency, kind == "npy")
            if point is None or not best:
                reasons.append(f"{kind} c={concurrency}: not measured for modelport batching or any peer")
                continue
            ratio = point["requests_per_s"] / best
            ok = ratio >= ratio_bar and point["errors"] == 0
            checks.append({"concurrency": concurrency, "best_peer": name, "best_peer_rps": best,
                           "modelport_rps": point["requests_per_s"], "ratio": round(ratio, 2), "bar": ratio_bar,
                           "ok": ok})
            if not ok:
                reasons.append(f"{kind} c={concurrency}: {ratio:.2f}x {name} (bar {ratio_bar}x)"
                               + (f", {point['errors']} errors" if point["errors"] else ""))
        on, off = _point(servers[batched], 1), _point(servers.get(plain), 1)
        cost = round(on["p50_ms"] - off["p50_ms"], 3) if on and off else None
        if cost is None:
            reasons.append(f"{kind}: batching off not measured at c=1")
        elif cost > BAR_BATCH_P50_MS:
            reasons.append(f"{kind}: batching costs {cost:.3f} ms of p50 at c=1 (bar ≤ {BAR_BATCH_P50_MS} ms)")
        formats[kind] = {"checks": checks, "batching_p50_cost_ms": cost}
    if not formats:
        return {"evaluated": False, "met": False, "reasons": ["modelport with batching was not measured"]}
    missing = [p for p in peers if not results["servers"].get(p, {}).get("ok")]
    if missing:
        reasons.append("peers not measured in this run: " + ", ".join(missing))
    return {"evaluated": True, "met": not reasons, "formats": formats, "reasons": reasons}


def _vs_best(results: dict, name: str, point: dict, peers: list[str]) -> str:
    _, best = best_peer(results, [p for p in peers if p != name], point["concurrency"], binary(name))
    return f"{point['requests_per_s'] / best:.2f}x" if best else "-"


def _memory_cells(entry: dict) -> list[str]:
    idle, peak, after = entry.get("memory_idle", {}), entry.get("memory_peak", {}), entry.get("endurance")
    growth = (f"{after['rss_after_mib']:.0f} ({after['rss_growth'] * 100:+.1f}% over {after['requests']:,})"
              if after else "")
    return [f"{idle.get('rss_mib', 0):.0f}", f"{idle.get('pss_mib', 0):.0f}", f"{peak.get('rss_mib', 0):.0f}", growth]


COLUMNS = ("server", "c", "req/s", "vs best peer", "p50 ms", "p99 ms", "errors", "idle RSS MiB", "idle PSS MiB",
           "peak RSS MiB", "RSS after N requests", "cold start s", "others' CPU")


def rows(results: dict, order: list[str], peers: list[str]) -> list[list[str]]:
    """Table cells, one row per server and concurrency (memory and cold start on each server's first row)."""
    out = []
    for name in order:
        entry = results["servers"].get(name)
        if entry is None:
            continue
        if not entry.get("ok"):
            out.append([entry["title"], "", f"failed: {entry.get('error', '')[:120]}"] + [""] * (len(COLUMNS) - 3))
            continue
        for i, point in enumerate(entry["points"]):
            first = i == 0
            out.append([entry["title"] if first else "", str(point["concurrency"]),
                        f"{point['requests_per_s']:,.0f}", _vs_best(results, name, point, peers),
                        f"{point['p50_ms']:.3f}", f"{point['p99_ms']:.3f}", str(point["errors"]),
                        *(_memory_cells(entry) if first else [""] * 4),
                        f"{entry['cold_start_s']:.2f}" if first else "",
                        "" if point.get("other_cores") is None else f"{point['other_cores']:.2f}"])
    return out


def verdict_line(results: dict) -> str:
    """One sentence: the bars and whether this run met them."""
    verdict = results.get("bar", {})
    bars = (f"modelport batching ≥ {BAR_C64_RATIO}x the best peer at c=64 and ≥ {BAR_C1_RATIO}x at c=1, batching "
            f"costing ≤ {BAR_BATCH_P50_MS} ms of p50 at c=1, per body format")
    if not verdict.get("evaluated"):
        return f"Bars ({bars}): not evaluated — " + "; ".join(verdict.get("reasons", [])) + "."
    return f"Bars ({bars}): " + ("**met**." if verdict["met"] else "**not met** — " + "; ".join(verdict["reasons"]) + ".")


def print_table(results: dict, order: list[str], peers: list[str], console: Console) -> None:
    """The results as a rich table, then the verdict."""
    table = Table(title=f"PyTorch CNN, one digit per request, wrk -t1, "
                       f"{rounds_phrase(results['settings'])}{results['settings']['duration_s']:g} s per point")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "server" else "right")
    for row in rows(results, order, peers):
        table.add_row(*row)
    console.print(table)
    for name in order:
        entry = results["servers"].get(name)
        if entry and not entry.get("ok"):
            console.print(f"[red]{entry['title']} failed:[/red] {entry.get('error')}")
    console.print(verdict_line(results).replace("**", ""))


def markdown_table(results: dict, order: list[str], peers: list[str]) -> str:
    """The README section: header line, table, verdict, each server's configuration and versions."""
    settings, machine = results["settings"], results["machine"]
    lines = [
        f"Run `{results['run_id']}` ({results['started_utc']} UTC) on {machine['cpu']}, {machine['cores']} cores; "
        f"{rounds_phrase(settings)}{settings['duration_s']:g} s per point after {settings['warmup_s']:g} s warm-up; "
        f"{settings.get('endurance_requests', 0):,} more requests before the second RSS reading; load average at start "
        f"{results['load_start']}, at end {results['load_end']}. The bare work in one process (json.loads, the "
        f"forward pass on one digit, softmax, json.dumps; one torch thread) takes {results['bare_work']['p50_ms']:.3f} ms "
        "(median). Plot: [results/torch.png](results/torch.png).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---|" + "---:|" * (len(COLUMNS) - 1),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results, order, peers)]
    lines += ["", verdict_line(results), "", "Configurations:"]
    for name in order:
        entry = results["servers"].get(name)
        if entry:
            versions = ", ".join(f"{k} {v}" for k, v in entry["versions"].items())
            lines.append(f"- **{entry['title']}** — {entry['config']} ({versions})")
    return "\n".join(lines)


def update_readme(readme: Path, section: str) -> None:
    """Replace the text between the PyTorch race's markers in bench/README.md."""
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no {README_START} ... {README_END} markers")
    readme.write_text(pattern.sub(lambda _: f"{README_START}\n{section}\n{README_END}", text))
