"""Measure what hosting adds: CreateEndpoint → InService time, and latency/throughput of
``POST /endpoints/NAME/invocations`` against calling the same instance's ``/invocations`` directly.

    python -m modelport.hosting.overhead [--archive model.tar.gz --body sample.json] [--duration 5]

Without ``--archive`` it packs a scikit-learn LogisticRegression on 784 features (the MNIST shape)
and sends one 784-float JSON row. Load comes from ``wrk`` (one thread) at each concurrency; the two
targets are measured alternately, twice each, and the better run of each is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
_SCRIPT = """wrk.method = "POST"
wrk.body = io.open("{body}", "rb"):read()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""


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


def _wrk(url: str, script: Path, concurrency: int, duration: float) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{duration:g}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    result: dict = {"errors": 0}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ("50%", "99%"):
            value = parts[1]
            unit = value.lstrip("0123456789.")
            result["p" + parts[0][:-1]] = round(float(value[: -len(unit)]) * _UNITS[unit], 4)
        elif line.startswith("Requests/sec:"):
            result["rps"] = float(parts[1])
        elif " requests in " in line:
            result["requests"] = int(parts[0])
        elif "Non-2xx" in line or "Socket errors" in line:
            result["errors"] += sum(int(p.strip(",")) for p in parts if p.strip(",").isdigit())
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print (and optionally write) the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, help="model.tar.gz to serve (default: a built-in sklearn model)")
    parser.add_argument("--body", type=Path, help="JSON request body file (needed with --archive)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated wrk connection counts")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is required (Debian package `wrk`, or `make -C bench wrk`)", file=sys.stderr)
        return 2
    if args.archive and not args.body:
        print("--archive needs --body (a request body file)", file=sys.stderr)
        return 2

    import boto3

    from modelport.hosting.server import HostingServer
    from modelport.hosting.settings import HostingSettings

    work = Path(tempfile.mkdtemp(prefix="modelport-overhead-"))
    archive, body = (args.archive, args.body) if args.archive else _sklearn_archive(work)
    # the archive lies outside MODELPORT_HOME: its folder is an allowed model root
    roots = os.pathsep.join([str(work), str(Path(archive).resolve().parent)])
    server = HostingServer(home=work / "home", settings=HostingSettings(port=0, model_roots=roots)).start()
    script = work / "post.lua"  # the runtime ignores the Authorization header; hosting needs it
    script.write_text(_SCRIPT.format(body=Path(body).resolve(), token=server.token))
    results: dict = {"archive": str(archive), "python": sys.version.split()[0], "cpus": os.cpu_count()}
    try:
        creds = {"aws_access_key_id": server.token, "aws_secret_access_key": "x", "region_name": "us-east-1"}
        sm = boto3.client("sagemaker", endpoint_url=server.url, **creds)
        sm.create_model(ModelName="overhead", PrimaryContainer={"Image": "modelport", "ModelDataUrl": str(archive)})
        sm.create_endpoint_config(EndpointConfigName="overhead", ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "overhead", "InitialInstanceCount": 1}])
        start = time.perf_counter()
        sm.create_endpoint(EndpointName="overhead", EndpointConfigName="overhead")
        while sm.describe_endpoint(EndpointName="overhead")["EndpointStatus"] != "InService":
            time.sleep(0.02)
        results["create_to_in_service_s"] = round(time.perf_counter() - start, 3)
        live = server_instances(server.url, server.token)
        tid = server.thread_id
        direct = f"http://127.0.0.1:{live}/invocations"
        via = f"{server.url}/endpoints/overhead/invocations"
        for c in (int(x) for x in args.concurrency.split(",")):
            runs = {"direct": [], "hosting": []}
            for _ in range(2):
                runs["direct"].append(_wrk(direct, script, c, args.duration))
                before = _thread_cpu(tid)
                run = _wrk(via, script, c, args.duration)
                run["hosting_cpu_us_per_request"] = round((_thread_cpu(tid) - before) / max(run.get("requests", 1), 1) * 1e6, 1)
                runs["hosting"].append(run)
            best = {k: max(v, key=lambda r: r.get("rps", 0)) for k, v in runs.items()}
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


def server_instances(url: str, token: str) -> int:
    """The port of the endpoint's first instance (hosting's status API)."""
    import urllib.request

    request = urllib.request.Request(f"{url}/_modelport/endpoints/overhead/instances",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        data = json.loads(response.read())
    return data["Variants"][0]["Instances"][0]["port"]


if __name__ == "__main__":
    raise SystemExit(main())
