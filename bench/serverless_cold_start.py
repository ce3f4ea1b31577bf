"""Serverless bench: a serverless endpoint's cold start, from zero instances to the first answer (issue 16's bar:
under 1 s for a scikit-learn model on this machine; SageMaker serverless: seconds to a minute).

    .venv/bin/python bench/serverless_cold_start.py [--archive model.tar.gz --body sample.json] [--rounds 5]

Without ``--archive`` it packs the scikit-learn LogisticRegression on 784 features of ``hosting_overhead.py`` and
sends one 784-float JSON row. Hosting runs in this process with ``serverless_idle_s`` of 0.5 s; once its instance
template is warm (``--no-forkserver``: none), each round waits until the instance has stopped, then times
InvokeEndpoint (boto3) from the call to the answer, and a warm call right after. Prints the rounds, the median /
max and the machine's load average as JSON (``--out`` writes it too).
"""

from __future__ import annotations

import argparse
import json
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

ENDPOINT = "cold"
IDLE_S = 0.5


def _listing(url: str, token: str) -> dict:
    request = urllib.request.Request(f"{url}/_modelport/endpoints/{ENDPOINT}/instances",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def _instances(url: str, token: str) -> list[dict]:
    return _listing(url, token)["Variants"][0]["Instances"]


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the figures."""
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, help="model.tar.gz to serve (default: a built-in sklearn model)")
    parser.add_argument("--body", type=Path, help="JSON request body file (needed with --archive)")
    parser.add_argument("--rounds", type=int, default=5, help="cold starts to time")
    parser.add_argument("--memory-mb", type=int, default=2048, help="the variant's MemorySizeInMB")
    parser.add_argument("--no-forkserver", action="store_true", help="start the instance as a new process")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)

    import boto3

    from modelport.hosting.deploy import production_variant, register_model
    from modelport.hosting.server import HostingServer
    from modelport.hosting.settings import HostingSettings

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive, body = (args.archive, args.body) if args.archive else _sklearn_archive(folder)
        payload = body.read_bytes()
        settings = HostingSettings(port=0, serverless_idle_s=IDLE_S, model_roots=str(archive.parent),
                                   forkserver=not args.no_forkserver)
        server = HostingServer(home=folder / "home", settings=settings).start()
        try:
            creds = {"aws_access_key_id": server.token, "aws_secret_access_key": "x", "region_name": "us-east-1"}
            sm = boto3.client("sagemaker", endpoint_url=server.url, **creds)
            rt = boto3.client("sagemaker-runtime", endpoint_url=server.url, **creds)
            register_model(sm, ENDPOINT, archive, copy=False)
            sm.create_endpoint_config(EndpointConfigName=ENDPOINT, ProductionVariants=[production_variant(
                ENDPOINT, ServerlessConfig={"MemorySizeInMB": args.memory_mb, "MaxConcurrency": 10})])
            sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
            sm.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.1})
            while not all(t["ready"] for t in _listing(server.url, server.token)["Templates"]):
                time.sleep(0.05)  # hosting's instance template, started with hosting, is warm
            rounds = []
            for _ in range(args.rounds):
                while _instances(server.url, server.token):  # stopped after the idle period
                    time.sleep(0.05)
                start = time.perf_counter()
                answer = rt.invoke_endpoint(EndpointName=ENDPOINT, Body=payload, ContentType="application/json")
                answer["Body"].read()
                cold = time.perf_counter() - start
                header = answer["ResponseMetadata"]["HTTPHeaders"].get("x-modelport-cold-start-ms")
                start = time.perf_counter()
                rt.invoke_endpoint(EndpointName=ENDPOINT, Body=payload, ContentType="application/json")["Body"].read()
                warm = time.perf_counter() - start
                rounds.append({"cold_s": round(cold, 3), "header_ms": int(header) if header else None,
                               "warm_ms": round(warm * 1000, 2)})
        finally:
            server.stop()
    colds = [r["cold_s"] for r in rounds]
    result = {"archive": str(args.archive or "built-in sklearn LogisticRegression, 784 features"),
              "forkserver": not args.no_forkserver, "load_average_after": load_average(),
              "rounds": rounds, "cold_median_s": statistics.median(colds), "cold_max_s": max(colds)}
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
