"""Instance start bench (issue 16, "Instances that start in well under a second"): CreateEndpoint of 2 variants ×
3 instances → InService (bar < 1 s), one scale-out step → the new instance ready and answering (bar < 0.5 s), and
what the instances cost in memory (RSS and PSS, summed over their process groups).

    .venv/bin/python bench/instance_start.py [--rounds 5] [--no-forkserver] [--out results/instance_start.json]

Serves the scikit-learn LogisticRegression on 784 features of ``hosting_overhead.py`` with hosting in this process.
A first endpoint of one instance is created and deleted before the rounds (hosting's first instance also waits for
its template to start: reported as ``first_endpoint_s``). Each InService round creates the endpoint with boto3 and
polls DescribeEndpoint every 10 ms; each scale-out round asks UpdateEndpointWeightsAndCapacities for one more
instance and polls hosting's instances listing every 5 ms until that many are ready (the router sends requests
only to ready instances), then invokes the endpoint; the endpoint is scaled back before the next round. Prints the
rounds, medians and the machine's load average as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
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

VARIANTS = ("A", "B")


def _instances(url: str, token: str, endpoint: str) -> list[dict]:
    request = urllib.request.Request(f"{url}/_modelport/endpoints/{endpoint}/instances",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        return [i for v in json.loads(response.read())["Variants"] for i in v["Instances"]]


def _group_memory(pgids: list[int]) -> dict[str, float]:
    """RSS and PSS (MiB) summed over every process in the process groups ``pgids``."""
    rss = pss = 0
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) not in pgids:
                continue
            fields = dict(line.split(":", 1) for line in (entry / "smaps_rollup").read_text().splitlines()[1:])
        except (OSError, ValueError):
            continue
        rss += int(fields["Rss"].split()[0])
        pss += int(fields["Pss"].split()[0])
        count += 1
    return {"processes": count, "rss_mib": round(rss / 1024, 1), "pss_mib": round(pss / 1024, 1)}


def _wait_status(sm, endpoint: str, status: str, poll: float) -> float:  # noqa: ANN001 - a boto3 client
    start = time.perf_counter()
    while True:
        described = sm.describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] == status:
            return time.perf_counter() - start
        if described["EndpointStatus"] == "Failed":
            raise RuntimeError(f"{endpoint} failed: {described.get('FailureReason')}")
        time.sleep(poll)


def _delete(sm, endpoint: str) -> None:  # noqa: ANN001 - a boto3 client
    sm.delete_endpoint(EndpointName=endpoint)
    while any(e["EndpointName"] == endpoint for e in sm.list_endpoints()["Endpoints"]):
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the figures."""
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each measurement")
    parser.add_argument("--instances", type=int, default=3, help="instances per variant (2 variants)")
    parser.add_argument("--no-forkserver", action="store_true", help="start every instance as a new process")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)

    import boto3

    from modelport.hosting.deploy import production_variant, register_model
    from modelport.hosting.server import HostingServer
    from modelport.hosting.settings import HostingSettings

    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive, body = _sklearn_archive(folder)
        payload = body.read_bytes()
        settings = HostingSettings(port=0, model_roots=str(archive.parent), forkserver=not args.no_forkserver)
        server = HostingServer(home=folder / "home", settings=settings).start()
        try:
            creds = {"aws_access_key_id": server.token, "aws_secret_access_key": "x", "region_name": "us-east-1"}
            sm = boto3.client("sagemaker", endpoint_url=server.url, **creds)
            rt = boto3.client("sagemaker-runtime", endpoint_url=server.url, **creds)
            register_model(sm, "m", archive, copy=False)

            def create(endpoint: str, count: int, variants: tuple[str, ...]) -> float:
                sm.create_endpoint_config(EndpointConfigName=endpoint, ProductionVariants=[
                    production_variant("m", VariantName=v, InitialInstanceCount=count) for v in variants])
                start = time.perf_counter()
                sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
                _wait_status(sm, endpoint, "InService", 0.01)
                return time.perf_counter() - start

            first = create("first", 1, ("A",))
            _delete(sm, "first")

            in_service, memory = [], {}
            for round_ in range(args.rounds):
                name = f"two-by-{args.instances}-{round_}"
                in_service.append(round(create(name, args.instances, VARIANTS), 3))
                rt.invoke_endpoint(EndpointName=name, Body=payload, ContentType="application/json")["Body"].read()
                if round_ == 0:
                    pids = [i["pid"] for i in _instances(server.url, server.token, name)]
                    memory = {"instances": len(pids), **_group_memory(pids)}
                    memory["origin"] = _instances(server.url, server.token, name)[0]["origin"]
                _delete(sm, name)

            create("scale", 1, ("A",))
            scale_out = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                sm.update_endpoint_weights_and_capacities(EndpointName="scale", DesiredWeightsAndCapacities=[
                    {"VariantName": "A", "DesiredInstanceCount": 2}])
                while sum(i["ready"] for i in _instances(server.url, server.token, "scale")) < 2:
                    time.sleep(0.005)
                ready = time.perf_counter() - start
                rt.invoke_endpoint(EndpointName="scale", Body=payload, ContentType="application/json")["Body"].read()
                scale_out.append(round(ready, 3))
                _wait_status(sm, "scale", "InService", 0.01)
                sm.update_endpoint_weights_and_capacities(EndpointName="scale", DesiredWeightsAndCapacities=[
                    {"VariantName": "A", "DesiredInstanceCount": 1}])
                time.sleep(0.05)
                _wait_status(sm, "scale", "InService", 0.01)
        finally:
            server.stop()
    result = {
        "forkserver": not args.no_forkserver,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "first_endpoint_s": round(first, 3),
        f"in_service_2x{args.instances}_s": in_service, "in_service_median_s": statistics.median(in_service),
        "scale_out_s": scale_out, "scale_out_median_s": statistics.median(scale_out),
        "memory_2x_instances": memory,
    }
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
