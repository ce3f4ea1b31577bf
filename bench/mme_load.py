"""Multi-model load bench (issue 16 follow-up, "multi-model targets load in a fraction of a second"): the first
InvokeEndpoint of a target that no instance has loaded yet, from boto3's call to its answer, and the load alone as
the instance's metrics count it (``ModelLoadingTime``); a second call of the same target for contrast.

    .venv/bin/python bench/mme_load.py [--rounds 7] [--no-forkserver] [--out results/mme_load.json]

Serves the scikit-learn LogisticRegression on 784 features of ``hosting_overhead.py`` (one copy of its archive per
round under a ``file://`` prefix) from a multi-model endpoint of one instance, with hosting in this process. With the
fork server (the default) the instance is forked from hosting's warm scikit-learn template and forks each target's
runtime from itself; with ``--no-forkserver`` the instance and every target start as new Python processes. Each
round invokes a new target (fetched, unpacked, loaded, then answered). Prints the rounds, medians and the machine's
load average as JSON.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib.machine import load_average  # noqa: E402
from benchlib.output import emit  # noqa: E402
from benchlib.processes import stop_servers_on_sigterm  # noqa: E402
from hosting_overhead import _sklearn_archive  # noqa: E402 - the same model as the overhead bench

ENDPOINT = "mme"


def _loading_time_sum_s(url: str, token: str) -> float:
    """The endpoint's ``ModelLoadingTime`` sum so far, in seconds (hosting's metrics count microseconds)."""
    request = urllib.request.Request(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        text = response.read().decode()
    prefix = f'ModelLoadingTime_sum{{endpoint="{ENDPOINT}"'
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)) / 1e6


def _measure(server, prefix: Path, payload: bytes, rounds: int) -> dict:  # noqa: ANN001 - a HostingServer
    """Create the endpoint, then in each round invoke a new target twice; the rounds and their medians."""
    import boto3

    creds = {"aws_access_key_id": server.token, "aws_secret_access_key": "x", "region_name": "us-east-1"}
    sm = boto3.client("sagemaker", endpoint_url=server.url, **creds)
    rt = boto3.client("sagemaker-runtime", endpoint_url=server.url, **creds)
    sm.create_model(ModelName=ENDPOINT, ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
                    PrimaryContainer={"Image": "modelport", "Mode": "MultiModel", "ModelDataUrl": f"file://{prefix}/"})
    sm.create_endpoint_config(EndpointConfigName=ENDPOINT, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": ENDPOINT, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 1})

    def call(target: str) -> float:
        start = time.perf_counter()
        rt.invoke_endpoint(EndpointName=ENDPOINT, TargetModel=target, Body=payload,
                           ContentType="application/json")["Body"].read()
        return time.perf_counter() - start

    first_calls, loads, second_calls = [], [], []
    for round_ in range(rounds):
        before = _loading_time_sum_s(server.url, server.token)
        first_calls.append(round(call(f"t{round_}.tar.gz"), 3))
        loads.append(round(_loading_time_sum_s(server.url, server.token) - before, 3))
        second_calls.append(round(call(f"t{round_}.tar.gz"), 4))
    return {"first_call_s": first_calls, "first_call_median_s": statistics.median(first_calls),
            "load_s": loads, "load_median_s": statistics.median(loads),
            "second_call_s": second_calls, "second_call_median_s": statistics.median(second_calls)}


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the figures."""
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="targets loaded (one per round); at most 8")
    parser.add_argument("--no-forkserver", action="store_true", help="start the instance and every target as a new process")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 8:
        parser.error("--rounds must be 1..8 (an instance keeps at most 8 targets loaded by default)")

    from modelport.hosting.server import HostingServer
    from modelport.hosting.settings import HostingSettings

    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive, body = _sklearn_archive(folder)
        prefix = folder / "prefix"
        prefix.mkdir()
        for round_ in range(args.rounds):
            (prefix / f"t{round_}.tar.gz").write_bytes(archive.read_bytes())
        settings = HostingSettings(port=0, model_roots=str(folder), forkserver=not args.no_forkserver)
        server = HostingServer(home=folder / "home", settings=settings).start()
        try:
            figures = _measure(server, prefix, body.read_bytes(), args.rounds)
        finally:
            server.stop()
    emit({"forkserver": not args.no_forkserver, "load_average_before": load_before, **figures,
          "load_average_after": load_average()}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
