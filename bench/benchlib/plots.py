"""Plots of one race's results: requests/s and p99 latency against concurrency, one line per server (PNG)."""
from __future__ import annotations

from pathlib import Path


def plot_race(results: dict, order: list[str], title: str, out: Path) -> Path | None:
    """Write `out` (PNG): requests/s (left) and p99 ms (right, log scale) against concurrency; None if nothing ran.

    Points with errors (non-2xx or socket errors) are circled in red: their requests/s counts fast refusals.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [(name, results["servers"][name]) for name in order
                if results["servers"].get(name, {}).get("ok")]
    if not measured:
        return None
    figure, (rps_axis, p99_axis) = plt.subplots(1, 2, figsize=(13, 5.2))
    markers = "os^vD<>pPX*h"
    for index, (name, entry) in enumerate(measured):
        levels = [p["concurrency"] for p in entry["points"]]
        style = {"marker": markers[index % len(markers)], "linewidth": 2.2 if name.startswith("modelport") else 1.2,
                 "linestyle": "--" if name.endswith(("-npy", "-binary")) else "-", "label": entry["title"],
                 "color": plt.cm.tab20(index % 20)}
        rps_axis.plot(levels, [p["requests_per_s"] for p in entry["points"]], **style)
        p99_axis.plot(levels, [p["p99_ms"] for p in entry["points"]], **style)
        failed = [p for p in entry["points"] if p.get("errors")]
        for axis, key in ((rps_axis, "requests_per_s"), (p99_axis, "p99_ms")):
            axis.scatter([p["concurrency"] for p in failed], [p[key] for p in failed], s=160, facecolors="none",
                         edgecolors="red", linewidths=1.5, zorder=5)
    for axis, label in ((rps_axis, "requests/s"), (p99_axis, "p99 latency, ms (log)")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("concurrent connections")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
        levels = sorted({p["concurrency"] for _, e in measured for p in e["points"]})
        axis.set_xticks(levels, [str(c) for c in levels])
    p99_axis.set_yscale("log")
    rps_axis.legend(fontsize=8, loc="best")
    settings = results["settings"]
    figure.suptitle(f"{title} — run {results['run_id']}, {settings['duration_s']:g} s per point, "
                    f"{results['machine']['cores']} cores (red circle: a point with errors)")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
