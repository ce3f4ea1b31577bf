"""Hosting bench: what hosting adds — CreateEndpoint → InService time, and latency/throughput of
``POST /endpoints/NAME/invocations`` against calling the same instance's ``/invocations`` directly.

    .venv/bin/python bench/hosting_overhead.py [--archive model.tar.gz --body sample.json] [--duration 5]

Without ``--archive`` it packs a scikit-learn LogisticRegression on 784 features (the MNIST shape)
and sends one 784-float JSON row. Hosting runs in this process (so its thread's CPU per request can
be read from /proc); load comes from ``wrk`` (benchlib.load: one thread, wrk/post.lua) at each
concurrency; the two targets are measured alternately, twice each, and the better run of each is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib.load import Point, run_wrk  # noqa: E402
from benchlib.processes import stop_servers_on_sigterm  # noqa: E402

ENDPOINT = "overhead"


def _sklearn_archive(folder: Path) -> tuple[Path, Path]:
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from modelport.archive import pack_archive

    rng = np.random.default_rng(0)
    x = rng.random((500, 784), dtype=np.float32)
    y = rng.integers(0, 10, 500)
    src = folder / "src"
    (src / "code").mkdir(parents=True)
    with warnings.catch_warnings():  # convergence does not matter: only the per-request cost does
        warnings.simplefilter("ignore")
        joblib.dump(LogisticRegression(max_iter=50).fit(x, y), src / "model.joblib")
    (src / "code" / "inference.py").write_text(
        "import os, joblib\n\ndef model_fn(model_dir):\n"
        "    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n")
    body = folder / "sample.json"
    body.write_text(json.dumps(x[0].tolist()))
    return pack_archive(src, folder / "model.tar.gz"), body


def _thread_cpu(tid: int) -> float:
    """CPU seconds (user + system) used so far by one thread of this process."""
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _row(point: Point) -> dict:
    """One wrk run as results/hosting_overhead.json has always recorded it (milliseconds, req/s)."""
    return {"errors": point.errors, "p50": round(point.p50_ms, 4), "p99": round(point.p99_ms, 4),
            "requests": point.requests, "rps": point.requests_per_s}


def _deploy(server, archive: Path) -> float:  # noqa: ANN001 - server: a HostingServer
    """Register the model and its config, then time CreateEndpoint → InService (seconds)."""
    import boto3

    from modelport.hosting.deploy import production_variant, register_model

    creds = {"aws_access_key_id": server.token, "aws_secret_access_key": "x", "region_name": "us-east-1"}
    sm = boto3.client("sagemaker", endpoint_url=server.url, **creds)
    register_model(sm, ENDPOINT, archive, copy=False)
    sm.create_endpoint_config(EndpointConfigName=ENDPOINT,
                              ProductionVariants=[production_variant(ENDPOINT, InitialInstanceCount=1)])
    start = time.perf_counter()
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    while sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] != "InService":
        time.sleep(0.02)
    return round(time.perf_counter() - start, 3)


def instance_port(url: str, token: str) -> int:
    """The port of the endpoint's first instance (hosting's status API)."""
    request = urllib.request.Request(f"{url}/_modelport/endpoints/{ENDPOINT}/instances",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        data = json.loads(response.read())
    return data["Variants"][0]["Instances"][0]["port"]


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print (and optionally write) the results."""
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, help="model.tar.gz to serve (default: a built-in sklearn model)")
    parser.add_argument("--body", type=Path, help="JSON request body file (needed with --archive)")
    parser.add_argument("--duration", type=int, default=5, help="whole seconds per wrk run (wrk takes no fractions)")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated wrk connection counts")
    parser.add_argument("--out", type=Path, help="write the results as JSON here (e.g. bench/results/hosting_overhead.json)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is required (Debian package `wrk`, or `make -C bench wrk`)", file=sys.stderr)
        return 2
    if args.archive and not args.body:
        print("--archive needs --body (a request body file)", file=sys.stderr)
        return 2

    from modelport.hosting.server import HostingServer
    from modelport.hosting.settings import HostingSettings

    work = Path(tempfile.mkdtemp(prefix="modelport-overhead-"))
    archive, body = (args.archive, args.body) if args.archive else _sklearn_archive(work)
    # the archive lies outside MODELPORT_HOME: its folder is an allowed model root
    roots = os.pathsep.join([str(work), str(Path(archive).resolve().parent)])
    server = HostingServer(home=work / "home", settings=HostingSettings(port=0, model_roots=roots)).start()
    authorization = f"Bearer {server.token}"  # the runtime ignores it; hosting needs it
    results: dict = {"archive": str(archive), "python": sys.version.split()[0], "cpus": os.cpu_count()}
    try:
        results["create_to_in_service_s"] = _deploy(server, archive)
        direct = f"http://127.0.0.1:{instance_port(server.url, server.token)}/invocations"
        via = f"{server.url}/endpoints/{ENDPOINT}/invocations"
        for c in (int(x) for x in args.concurrency.split(",")):
            runs = {"direct": [], "hosting": []}
            for _ in range(2):
                runs["direct"].append(_row(run_wrk(direct, body, "application/json", c, args.duration, authorization)))
                before = _thread_cpu(server.thread_id)
                run = _row(run_wrk(via, body, "application/json", c, args.duration, authorization))
                run["hosting_cpu_us_per_request"] = round(
                    (_thread_cpu(server.thread_id) - before) / max(run["requests"], 1) * 1e6, 1)
                runs["hosting"].append(run)
            best = {k: max(v, key=lambda r: r["rps"]) for k, v in runs.items()}
            best["added_p50_ms"] = round(best["hosting"]["p50"] - best["direct"]["p50"], 4)
            results[f"c{c}"] = best
            print(f"c={c}: direct p50 {best['direct']['p50']} ms, {best['direct']['rps']:.0f} req/s; "
                  f"via hosting p50 {best['hosting']['p50']} ms, {best['hosting']['rps']:.0f} req/s; "
                  f"added p50 {best['added_p50_ms']} ms; hosting CPU "
                  f"{best['hosting']['hosting_cpu_us_per_request']} us/request")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"CreateEndpoint -> InService: {results['create_to_in_service_s']} s")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
