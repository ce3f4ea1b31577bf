"""Data capture bench: what capturing 100 % of the traffic costs hosting's throughput.

    .venv/bin/python bench/capture_cost.py [--duration 5] [--concurrency 16] [--rounds 3]

One hosting (in this process, as ``hosting_overhead.py`` runs it) serves the same scikit-learn archive (a
LogisticRegression on 784 features, one 784-float JSON row per request) as two endpoints: ``plain`` (no capture)
and ``captured`` (``DataCaptureConfig`` at 100 %, input and output, JSON, to hosting's own S3). wrk drives them
alternately (benchlib.load: one thread, loopback) ``--rounds`` times each; the medians are compared. The bar is a
throughput ratio of at least 0.9. Afterwards the capture objects are counted against the requests wrk saw
answered, and dropped records read from ``/metrics``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib.load import run_wrk  # noqa: E402
from benchlib.machine import load_average  # noqa: E402
from benchlib.processes import stop_servers_on_sigterm  # noqa: E402
from hosting_overhead import _sklearn_archive  # noqa: E402

BUCKET = "capture-bench"


def _clients(server):  # noqa: ANN001, ANN202 - server: a HostingServer
    import boto3

    creds = {"aws_access_key_id": server.token, "aws_secret_access_key": "x", "region_name": "us-east-1"}
    return (boto3.client("sagemaker", endpoint_url=server.url, **creds),
            boto3.client("s3", endpoint_url=server.url, **creds))


def _deploy(sm, archive: Path) -> None:  # noqa: ANN001
    from modelport.hosting.deploy import production_variant, register_model

    register_model(sm, "bench-model", archive, copy=False)
    capture = {"EnableCapture": True, "InitialSamplingPercentage": 100, "DestinationS3Uri": f"s3://{BUCKET}/capture",
               "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
               "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]}}
    for name, extra in (("plain", {}), ("captured", {"DataCaptureConfig": capture})):
        sm.create_endpoint_config(EndpointConfigName=name,
                                  ProductionVariants=[production_variant("bench-model", InitialInstanceCount=1)],
                                  **extra)
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    for name in ("plain", "captured"):
        while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] != "InService":
            time.sleep(0.05)


def _captured_records(s3) -> int:  # noqa: ANN001
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="capture/"):
        for item in page.get("Contents", []):
            count += s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().count(b"\n")
    return count


def _dropped(server) -> float:  # noqa: ANN001
    request = urllib.request.Request(f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.token}"})
    with urllib.request.urlopen(request) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("CaptureRecordsDropped_total{"))


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print (and optionally write) the results."""
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="whole seconds per wrk run")
    parser.add_argument("--concurrency", type=int, default=16, help="wrk connections")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each endpoint (alternating); medians compared")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is required (Debian package `wrk`, or `make -C bench wrk`)", file=sys.stderr)
        return 2

    from modelport.hosting.server import HostingServer
    from modelport.hosting.settings import HostingSettings

    work = Path(tempfile.mkdtemp(prefix="modelport-capture-"))
    archive, body = _sklearn_archive(work)
    server = HostingServer(home=work / "home", settings=HostingSettings(port=0, model_roots=str(work))).start()
    runs: dict[str, list[dict]] = {"plain": [], "captured": []}
    results: dict = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "concurrency": args.concurrency,
                     "duration_s": args.duration, "load_average_before": load_average()}
    try:
        sm, s3 = _clients(server)
        s3.create_bucket(Bucket=BUCKET)
        _deploy(sm, archive)
        for _ in range(args.rounds):
            for name in ("plain", "captured"):
                point = run_wrk(f"{server.url}/endpoints/{name}/invocations", body, "application/json",
                                args.concurrency, args.duration, f"Bearer {server.token}")
                runs[name].append({"rps": point.requests_per_s, "p50_ms": round(point.p50_ms, 3),
                                   "p99_ms": round(point.p99_ms, 3), "requests": point.requests,
                                   "errors": point.errors})
                print(f"{name:<9} {point.requests_per_s:8.1f} req/s  p50 {point.p50_ms:.2f} ms  "
                      f"p99 {point.p99_ms:.2f} ms  errors {point.errors}", flush=True)
        answered = sum(r["requests"] - r["errors"] for r in runs["captured"])
        time.sleep(HostingSettings().capture_flush_seconds + 1)  # the writer's last flush
        results["captured_records"] = _captured_records(s3)
        results["dropped_records"] = _dropped(server)
        results["answered_with_capture"] = answered
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(r["rps"] for r in rows) for name, rows in runs.items()}
    results.update(runs=runs, median_rps=medians, ratio=round(medians["captured"] / medians["plain"], 3),
                   load_average_after=load_average())
    print(f"median: plain {medians['plain']:.1f} req/s, captured {medians['captured']:.1f} req/s, "
          f"ratio {results['ratio']} (bar: >= 0.9); {results['captured_records']} records written of "
          f"{results['answered_with_capture']} answered (wrk may count a few in flight at its end), "
          f"{results['dropped_records']:g} dropped; load average {results['load_average_after']}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
