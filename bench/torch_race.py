"""The PyTorch race: the bundled mnist-pytorch CNN, one 28×28 digit per request, JSON and .npy, every server.

Each server is measured exactly as in the scikit-learn race (run.py's `measure`: alone, cold start and
correctness gate against the reference probabilities, warm-up, wrk at each concurrency, memory, then
N more requests and RSS again, the gate once more). Prints a table and issue 15's bars for the CNN, and
draws requests/s and p99 against concurrency (results/torch.png).

Full runs (every server, ≥ 10 s per point) are published to bench/results/torch-*.json and the README's
PyTorch section; partial or QUICK runs go to bench/.work/results/ unless --publish is given.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import plots, torch_report  # noqa: E402
from benchlib.servers import BENCH, Context  # noqa: E402
from benchlib.torch_servers import TORCH_PEERS, TORCH_SERVERS  # noqa: E402
from benchlib.processes import stop_servers_on_sigterm  # noqa: E402
from run import announce, console, measure_all, race_args, race_parser, race_results  # noqa: E402

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see --help): the races' common ones (run.race_parser)."""
    parser = race_parser(__doc__, TORCH_SERVERS, BENCH / ".work" / "torch-model",
                         "folder bench/make_torch_model.py writes (model.tar.gz, sample, reference)")
    args = race_args(parser, TORCH_SERVERS, argv)
    args.model_dir = args.model_dir.resolve()  # the servers run in scratch folders of their own
    return args


def bare_work_ms(model_dir: Path, body: bytes, repeats: int = 2000) -> dict:
    """Median and p99 ms of json.loads → forward pass (the graph `digit_cnn.for_inference` compiles, which every
    server runs) → softmax → json.dumps in this process, one torch thread."""
    import torch

    sys.path.insert(0, str(model_dir))
    from digit_cnn import DigitCNN, for_inference

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = DigitCNN()
        model.load_state_dict(torch.load(model_dir / "artifacts" / "model.pth", map_location="cpu", weights_only=True))
        model = for_inference(model)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            pixels = torch.tensor(json.loads(body)["pixels"], dtype=torch.float32).view(1, 1, 28, 28)
            with torch.inference_mode():
                probabilities = torch.softmax(model(pixels), dim=1)[0]
            json.dumps({"label": int(probabilities.argmax()), "probabilities": probabilities.tolist()})
            times.append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(threads)
    times_ms = np.array(times) * 1000
    return {"p50_ms": round(float(np.median(times_ms)), 4), "p99_ms": round(float(np.percentile(times_ms, 99)), 4),
            "repeats": repeats}


def publish_outputs(results: dict, order: list[str], out_dir: Path, readme: bool) -> Path | None:
    """Write the plot beside the results (and the README section when publishing)."""
    png = plots.plot_race(results, order, "PyTorch MNIST CNN, one digit per request", out_dir / "torch.png")
    if readme:
        torch_report.update_readme(BENCH / "README.md", torch_report.markdown_table(results, order, TORCH_PEERS))
    return png


def main(argv: list[str] | None = None) -> int:
    """Run the race; exit 1 when a server failed, else 0 (the verdict is printed)."""
    stop_servers_on_sigterm()
    args = parse_args(argv)
    if args.report:
        results = json.loads(args.report.read_text())
        order = [n for n in TORCH_SERVERS if n in results["servers"]]
        torch_report.print_table(results, order, TORCH_PEERS, console)
        if args.publish:
            publish_outputs(results, order, BENCH / "results", readme=True)
            console.print("README section and results/torch.png rewritten")
        return 0
    if shutil.which("wrk") is None:
        console.print("[red]wrk is not installed[/red]: `apt-get install wrk` (make -C bench does it when apt exists)")
        return 1
    needed = [args.model_dir / f for f in ("model.tar.gz", "sample.json", "reference.json", "meta.json")]
    if not all(path.exists() for path in needed):
        console.print(f"[red]{args.model_dir} is incomplete[/red]: run `make -C bench torch-model`")
        return 1
    sample = json.loads((args.model_dir / "sample.json").read_text())
    reference = np.asarray(json.loads((args.model_dir / "reference.json").read_text()), dtype=np.float64)

    work = BENCH / ".work" / "torch"
    ctx = Context(work=work, model_dir=args.model_dir)
    started_utc = datetime.now(timezone.utc)
    run_id = started_utc.strftime("%Y%m%d-%H%M%S")
    full = set(args.names) == set(TORCH_SERVERS) and not args.quick and args.duration >= 10 and args.rounds >= 3
    publish = full if args.publish is None else args.publish
    results = race_results(args, run_id, started_utc, json.loads((args.model_dir / "meta.json").read_text()),
                           bare_work_ms(args.model_dir, json.dumps({"pixels": sample}).encode()), race="pytorch-cnn")
    announce(results, args, "json.loads + forward pass + json.dumps")
    measure_all(TORCH_SERVERS, results, ctx, sample, reference, args)
    results["bar"] = torch_report.bar_verdict(results, TORCH_PEERS)

    torch_report.print_table(results, args.names, TORCH_PEERS, console)
    out_dir = BENCH / "results" if publish else work / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out_file = out_dir / f"torch-{run_id}.json"
    out_file.write_text(json.dumps(results, indent=2) + "\n")
    if publish:
        (out_dir / "torch-latest.json").write_text(json.dumps(results, indent=2) + "\n")
    png = publish_outputs(results, args.names, out_dir, readme=publish)
    console.print(f"results: {out_file}; plot: {png}" + ("; README section updated" if publish else
                                                         " (not published: partial or quick run)"))
    return 1 if any(not e["ok"] for e in results["servers"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
