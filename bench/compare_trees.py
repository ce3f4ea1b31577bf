"""Two versions of modelport's servers, measured back to back: requests/s, p50 and CPU per request.

On a shared machine a number from one minute cannot be compared with a number from the next. This
starts the same stack from two source trees at once (each: `modelport hosting` with the bench's
scikit-learn endpoint, 2 runtime workers, and `modelport gateway` with the pooled http client), then
for every target (runtime direct, hosting, gateway) and concurrency measures the two in turn, round
after round (wrk, one thread), and reads the CPU time every process of the measured stack used
(/proc, user + system) — a figure far less disturbed by other load than requests/s.

    PYTHONPATH= .venv/bin/python bench/compare_trees.py --base /tmp/old/src --new src \\
        [--seconds 5] [--rounds 3] [--concurrency 1,16] [--targets hosting,gateway]

The same tree with one setting changed is an A/B of that setting: ``--base src --new src
--base-env MODELPORT_METRICS=0`` measures what metrics cost (``--base-env`` / ``--new-env`` add
variables to one stack's processes, runtime instances included).

Prints, per target and concurrency, the medians over rounds for each tree and the median of the
per-round ratios new/base. Writes the raw rounds to --out (default bench/.work/results/compare_trees.json).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib.load import run_wrk  # noqa: E402
from benchlib.processes import free_port  # noqa: E402
from benchlib.processes import stop_servers_on_sigterm  # noqa: E402
from gateway_e2e import HANDLER, start, stop, wait_http  # noqa: E402

TOKEN = secrets.token_urlsafe(32)  # both stacks' hosting token (MODELPORT_HOSTING_TOKEN)
AUTHORIZATION = f"Bearer {TOKEN}"


def family_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of a stack's processes, by kind: the process itself and all its descendants."""
    root = psutil.Process(pid)
    total = {"self": sum(root.cpu_times()[:2]), "children": 0.0}
    for child in root.children(recursive=True):
        try:
            total["children"] += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


class Stack:
    """hosting (+ its runtime instance) and a gateway, started from one source tree."""

    def __init__(self, name: str, src: Path, archive: Path, work: Path, extra_env: dict[str, str] | None = None) -> None:
        import boto3
        import httpx

        self.name = name
        # hosting (since its gate) answers only its token, and model data only from MODELPORT_HOME and
        # MODELPORT_MODEL_ROOTS; a tree from before the gate ignores both settings
        env = {**os.environ, "PYTHONPATH": str(src.resolve()), "MODELPORT_HOME": str(work / f"home-{name}"),
               "MODELPORT_HOSTING_TOKEN": TOKEN, "MODELPORT_MODEL_ROOTS": str(work),
               "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
               **(extra_env or {})}
        hosting_port = free_port()
        hosting_url = f"http://127.0.0.1:{hosting_port}"
        self.hosting = start([sys.executable, "-m", "modelport", "hosting", "--port", str(hosting_port)], env,
                             work / f"hosting-{name}.log")
        self.procs = [self.hosting]
        wait_http(f"{hosting_url}/ping")
        sm = boto3.client("sagemaker", endpoint_url=hosting_url, region_name="us-east-1",
                          aws_access_key_id=TOKEN, aws_secret_access_key="bench")
        sm.create_model(ModelName="bench", ExecutionRoleArn="arn:aws:iam::123456789012:role/bench",
                        PrimaryContainer={"Image": "modelport", "ModelDataUrl": str(archive),
                                          "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}})
        sm.create_endpoint_config(EndpointConfigName="bench", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "bench", "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1, "InitialVariantWeight": 1.0}])
        sm.create_endpoint(EndpointName="bench", EndpointConfigName="bench")
        sm.get_waiter("endpoint_in_service").wait(EndpointName="bench", WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
        instance = httpx.get(f"{hosting_url}/_modelport/endpoints/bench/instances",
                             headers={"Authorization": AUTHORIZATION}).json()["Variants"][0]["Instances"][0]
        gateway_port = free_port()
        genv = {**env, "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": hosting_url, "MNIST_SKLEARN_ENDPOINT": "bench",
                "MODELPORT_RUNTIME_CLIENT": "http", "MODELPORT_ACCESS_LOG": "false"}
        self.gateway = start([sys.executable, "-m", "modelport", "gateway", "--port", str(gateway_port)], genv,
                             work / f"gateway-{name}.log")
        self.procs.append(self.gateway)
        wait_http(f"http://127.0.0.1:{gateway_port}/health")
        self.targets = {
            "runtime direct": f"http://127.0.0.1:{instance['port']}/invocations",
            "hosting": f"{hosting_url}/endpoints/bench/invocations",
            "gateway": f"http://127.0.0.1:{gateway_port}/predict/mnist-sklearn",
        }

    def cpu(self) -> float:
        """CPU seconds so far of every process of the stack (gateway, hosting, runtime supervisor and workers)."""
        hosting = family_cpu(self.hosting.pid)
        gateway = family_cpu(self.gateway.pid)
        return hosting["self"] + hosting["children"] + gateway["self"] + gateway["children"]

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)


def main() -> int:
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="src/ directory of the version to compare against")
    parser.add_argument("--new", type=Path, required=True, help="src/ directory of the version measured")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--targets", default="runtime direct,hosting,gateway", help="which of the three, comma-separated")
    parser.add_argument("--base-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a variable for the base stack only (repeatable), e.g. MODELPORT_METRICS=0")
    parser.add_argument("--new-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a variable for the new stack only (repeatable)")
    parser.add_argument("--out", type=Path, default=HERE / ".work" / "results" / "compare_trees.json")
    options = parser.parse_args()
    levels = [int(c) for c in options.concurrency.split(",")]

    from modelport.archive import pack_archive

    model_dir = HERE / ".work" / "model"
    work = Path(tempfile.mkdtemp(prefix="modelport-compare-"))
    (work / "model" / "code").mkdir(parents=True)
    (work / "model" / "model.joblib").write_bytes((model_dir / "model.joblib").read_bytes())
    (work / "model" / "code" / "inference.py").write_text(HANDLER)
    archive = pack_archive(work / "model", work / "model.tar.gz")
    row = json.loads((model_dir / "sample.json").read_text())
    body = work / "body.json"
    body.write_text(json.dumps({"pixels": row[0] if isinstance(row[0], list) else row}))

    stacks: dict[str, Stack] = {}
    try:
        extra = {"base": dict(v.split("=", 1) for v in options.base_env),
                 "new": dict(v.split("=", 1) for v in options.new_env)}
        for name, src in (("base", options.base), ("new", options.new)):
            stacks[name] = Stack(name, src, archive, work, extra[name])
        raw: dict = {}
        for target in options.targets.split(","):
            for level in levels:
                rows = raw.setdefault(f"{target} c={level}", {"base": [], "new": []})
                authorization = AUTHORIZATION if target == "hosting" else ""  # only hosting asks for its token
                for stack in stacks.values():
                    run_wrk(stack.targets[target], body, "application/json", level, options.warmup, authorization)
                for round_ in range(options.rounds):
                    # the two take turns going first: whoever runs second meets a warmer (or busier) machine
                    order = list(stacks.items()) if round_ % 2 == 0 else list(reversed(stacks.items()))
                    for name, stack in order:
                        before = stack.cpu()
                        point = run_wrk(stack.targets[target], body, "application/json", level, options.seconds,
                                        authorization)
                        used = stack.cpu() - before
                        rows[name].append({"rps": point.requests_per_s, "p50_ms": point.p50_ms, "errors": point.errors,
                                           "cpu_us": 1e6 * used / max(point.requests, 1)})
        print(f"{'target':<22} {'base req/s':>10} {'new req/s':>10} {'ratio':>6}  {'base p50':>8} {'new p50':>8}"
              f"  {'base CPU/req':>12} {'new CPU/req':>12} {'ratio':>6}  errors")
        for key, rows in raw.items():
            def median(name: str, field: str) -> float:
                return statistics.median(r[field] for r in rows[name])

            def ratio(field: str) -> float:
                return statistics.median(n[field] / b[field] for b, n in zip(rows["base"], rows["new"]) if b[field])

            errors = sum(r["errors"] for name in rows for r in rows[name])
            print(f"{key:<22} {median('base', 'rps'):>10.0f} {median('new', 'rps'):>10.0f} {ratio('rps'):>6.2f}"
                  f"  {median('base', 'p50_ms'):>8.3f} {median('new', 'p50_ms'):>8.3f}"
                  f"  {median('base', 'cpu_us'):>10.0f}us {median('new', 'cpu_us'):>10.0f}us {ratio('cpu_us'):>6.2f}  {errors}")
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(json.dumps({"settings": vars(options) | {"base": str(options.base), "new": str(options.new),
                                                                         "out": str(options.out)},
                                           "load": os.getloadavg(), "rounds": raw}, indent=2) + "\n")
        print(f"load average {os.getloadavg()}; raw rounds in {options.out}")
    finally:
        for stack in stacks.values():
            stack.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
