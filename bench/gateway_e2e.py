"""Gateway bench: `POST /predict/mnist-sklearn` through gateway + hosting against calling the runtime directly.

The bar (issue 15; the gateway issue's was 40%): end to end through the gateway and hosting sustains at
least 50% of the requests/s of calling the runtime instance directly at c=16 and c=64, on this machine.
One run starts, on 127.0.0.1:

  python -m modelport.stack.services  → what `modelport up` runs: hosting, and a gateway in its process
                                        calling the Runtime API in process; endpoint `mnist-sklearn`
                                        (1 instance; its runtime process is the "direct" target)
  modelport gateway  → two more, as processes of their own in front of that hosting: once with
                       MODELPORT_RUNTIME_CLIENT=boto3 and once with =http (lean pooled client)

and drives each with wrk (one thread, the same 784-float row) at the given concurrencies:
runtime direct (POST /invocations), hosting (POST /endpoints/mnist-sklearn/invocations), the gateways
(POST /predict/mnist-sklearn). The model is the bench's scikit-learn LogisticRegression
(bench/.work/model, written by make_model.py) behind a handler with the bundled MNIST contract
({"pixels": [...]} → {"predictions": [{"label", "probabilities"}]}).

    .venv/bin/python bench/gateway_e2e.py [--seconds 6] [--rounds 3] [--warmup 3] [--concurrency 1,16,64]

At each concurrency the targets take turns, round after round, so the host's slow and fast minutes
fall on all of them alike; the table shows each target's median round, and the verdict uses the
median over rounds of (gateway / direct) measured back to back. Errors are summed over all rounds.
Writes bench/results/gateway_e2e.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from benchlib.load import run_wrk  # noqa: E402
from benchlib.processes import free_port  # noqa: E402
from benchlib.processes import stop_servers_on_sigterm  # noqa: E402

BAR = 0.5  # gateway + hosting ÷ runtime direct, requests/s
# each gateway's target name, by how it reaches hosting's Runtime API (in-process: modelport up's default)
GATEWAY_TARGET = {
    "in-process": "gateway in hosting's process (modelport up)",
    "http": "gateway+hosting (http)",
    "boto3": "gateway+hosting (boto3)",
}

HANDLER = '''
"""Bench handler with the bundled MNIST JSON contract (orjson + scikit-learn predict_proba)."""
import os
import joblib
import numpy as np
import orjson

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))

def input_fn(body, content_type):
    data = orjson.loads(body)
    rows = data["instances"] if "instances" in data else [data["pixels"]]
    return np.asarray(rows, dtype=np.float64)

def predict_fn(rows, model):
    return model.predict_proba(rows)

def output_fn(probabilities, accept):
    labels = probabilities.argmax(axis=1).tolist()
    return orjson.dumps({"predictions": [{"label": int(l), "probabilities": p} for l, p in zip(labels, probabilities.tolist())]}), "application/json"
'''


def _median_point(points: list[dict]) -> dict:
    """The measurement with the median requests/s (its latencies and errors come with it)."""
    ordered = sorted(points, key=lambda p: p["requests_per_s"])
    return {**ordered[len(ordered) // 2], "errors": sum(p["errors"] for p in points)}


def wait_http(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


def start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; in each, every target is measured once in turn")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--workers", type=int, default=2, help="runtime worker processes of the endpoint instance")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "gateway_e2e.json")
    options = parser.parse_args()
    levels = [int(c) for c in options.concurrency.split(",")]

    model_dir = HERE / ".work" / "model"
    if not (model_dir / "model.joblib").is_file():
        subprocess.run([sys.executable, str(HERE / "make_model.py")], check=True)
    import boto3
    import httpx

    from modelport.archive import pack_archive
    from modelport.token import hosting_token

    work = Path(tempfile.mkdtemp(prefix="modelport-gateway-bench-"))
    src = work / "model"
    (src / "code").mkdir(parents=True)
    (src / "model.joblib").write_bytes((model_dir / "model.joblib").read_bytes())
    (src / "code" / "inference.py").write_text(HANDLER)
    archive = pack_archive(src, work / "model.tar.gz")
    row = json.loads((model_dir / "sample.json").read_text())
    row = row[0] if isinstance(row[0], list) else row
    body_file = work / "body.json"
    body_file.write_text(json.dumps({"pixels": row}))

    # hosting serves model data from MODELPORT_HOME and MODELPORT_MODEL_ROOTS; the archive is in `work`
    env = {**os.environ, "MODELPORT_HOME": str(work / "home"), "MODELPORT_MODEL_ROOTS": str(work),
           "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    hosting_port, up_gateway_port = free_port(), free_port()
    hosting_url = f"http://127.0.0.1:{hosting_port}"
    procs = []
    results: dict = {"targets": {}}
    try:
        up_env = {**env, "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": hosting_url, "MNIST_SKLEARN_ENDPOINT": "mnist-sklearn",
                  "MODELPORT_ACCESS_LOG": "false"}
        procs.append(start([sys.executable, "-m", "modelport.stack.services", "--hosting-port", str(hosting_port),
                            "--gateway-port", str(up_gateway_port)], up_env, work / "services.log"))
        wait_http(f"{hosting_url}/ping")
        token = hosting_token(work / "home")  # the gateways read it from the same MODELPORT_HOME
        auth = {"Authorization": f"Bearer {token}"}
        sm = boto3.client("sagemaker", endpoint_url=hosting_url, region_name="us-east-1", aws_access_key_id=token, aws_secret_access_key="bench")
        sm.create_model(ModelName="mnist-sklearn", ExecutionRoleArn="arn:aws:iam::123456789012:role/bench",
                        PrimaryContainer={"Image": "modelport", "ModelDataUrl": str(archive),
                                          "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": str(options.workers)}})
        sm.create_endpoint_config(EndpointConfigName="mnist-sklearn", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "mnist-sklearn", "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1, "InitialVariantWeight": 1.0}])
        sm.create_endpoint(EndpointName="mnist-sklearn", EndpointConfigName="mnist-sklearn")
        sm.get_waiter("endpoint_in_service").wait(EndpointName="mnist-sklearn", WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
        instances = httpx.get(f"{hosting_url}/_modelport/endpoints/mnist-sklearn/instances", headers=auth).json()
        runtime_port = instances["Variants"][0]["Instances"][0]["port"]

        targets = {
            "runtime direct": f"http://127.0.0.1:{runtime_port}/invocations",
            "hosting": f"{hosting_url}/endpoints/mnist-sklearn/invocations",
            GATEWAY_TARGET["in-process"]: f"http://127.0.0.1:{up_gateway_port}/predict/mnist-sklearn",
        }
        for client in ("boto3", "http"):
            port = free_port()
            genv = {**env, "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": hosting_url, "MNIST_SKLEARN_ENDPOINT": "mnist-sklearn",
                    "MODELPORT_RUNTIME_CLIENT": client, "MODELPORT_ACCESS_LOG": "false"}
            procs.append(start([sys.executable, "-m", "modelport", "gateway", "--port", str(port)], genv, work / f"gateway-{client}.log"))
            wait_http(f"http://127.0.0.1:{port}/health")
            targets[GATEWAY_TARGET[client]] = f"http://127.0.0.1:{port}/predict/mnist-sklearn"

        authorization = {"hosting": auth["Authorization"]}  # only hosting asks for its token
        for name, url in targets.items():
            headers = {"content-type": "application/json", **({"authorization": authorization[name]} if name in authorization else {})}
            check = httpx.post(url, content=body_file.read_bytes(), headers=headers)
            if check.status_code != 200 or "predictions" not in check.json():
                raise RuntimeError(f"{name} answered {check.status_code}: {check.text[:200]}")
        # Targets take turns within each round, so a slow minute of this shared host hits all of them alike;
        # the ratio of each round compares two runs seconds apart.
        samples: dict[str, dict[int, list[dict]]] = {name: {level: [] for level in levels} for name in targets}
        for level in levels:
            for name, url in targets.items():
                run_wrk(url, body_file, "application/json", level, options.warmup, authorization.get(name, ""))
            for round_no in range(options.rounds):
                for name, url in targets.items():
                    point = run_wrk(url, body_file, "application/json", level, options.seconds,
                                    authorization.get(name, "")).as_dict()
                    samples[name][level].append(point)
                print(f"c={level} round {round_no + 1}/{options.rounds}: " + ", ".join(
                    f"{name} {samples[name][level][-1]['requests_per_s']:.0f}" for name in targets) + " req/s", flush=True)
        for name in targets:
            results["targets"][name] = [_median_point(samples[name][level]) for level in levels]
        # every round's requests/s (the "rounds" key below is their count)
        results["round_requests_per_s"] = {name: {str(level): [p["requests_per_s"] for p in samples[name][level]]
                                                  for level in levels} for name in targets}
    finally:
        for proc in reversed(procs):
            stop(proc)

    print()
    for name in results["targets"]:
        print(f"{name:<44}" + "".join(f"  c={p['concurrency']}: {p['requests_per_s']:>7.0f} req/s p50 {p['p50_ms']:.2f} ms"
                                      f" err {p['errors']}" for p in results["targets"][name]))
    ratios = {}
    for client, target in GATEWAY_TARGET.items():
        per_round = results["round_requests_per_s"]
        via, direct = per_round[target], per_round["runtime direct"]
        # the median over rounds of (gateway / direct) measured back to back
        ratios[client] = [round(statistics.median(v / d for v, d in zip(via[str(level)], direct[str(level)])), 3) for level in levels]
        print(f"{target} / runtime direct (median of {options.rounds} rounds): " + ", ".join(
            f"c={level}: {r:.0%}" for level, r in zip(levels, ratios[client])) + f"  (bar: >= {BAR:.0%})")
    results.update(
        ratios=ratios, bar=BAR, concurrency=levels, seconds=options.seconds, rounds=options.rounds, workers=options.workers,
        machine={"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        loadavg_after=os.getloadavg(),
        command=" ".join([Path(sys.executable).name, *sys.argv]),
    )
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {options.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
