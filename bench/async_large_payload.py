"""Asynchronous inference bench: a large payload through hosting without hosting holding it.

    .venv/bin/python bench/async_large_payload.py [--mb 1024] [--out result.json]

``modelport hosting`` runs as its own process (so its memory is its own). A model whose ``input_fn`` answers the
body's length serves an async endpoint; a ``--mb`` MB object is uploaded to hosting's S3 (multipart, boto3),
then ``InvokeEndpointAsync`` names it. Reported: the seconds from the call until the output object exists, the
model's byte count (it must equal the upload), and hosting's peak resident memory during the invocation alone
(``/proc/PID/status`` VmHWM, reset through ``clear_refs`` after the upload) beside its resident memory before.
The bar: hosting's peak grows by far less than the payload (the input is streamed in 1 MB pieces).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.processes import stop_servers_on_sigterm  # noqa: E402

ENDPOINT, BUCKET = "large", "async-bench"
INFERENCE = '''
import json

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return len(body)

def predict_fn(size, model):
    return size

def output_fn(size, accept):
    return json.dumps({"bytes": size}), "application/json"
'''


def _memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_payload(path: Path, megabytes: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as f:
        for _ in range(megabytes):
            f.write(block)


def main(argv: list[str] | None = None) -> int:
    """Upload, invoke, wait, and print the figures."""
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=1024, help="payload size in MB (SageMaker's limit: 1024)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)

    import boto3
    from boto3.s3.transfer import TransferConfig

    from modelport.archive import pack_archive

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src" / "code").mkdir(parents=True)
        (folder / "src" / "code" / "inference.py").write_text(textwrap.dedent(INFERENCE))
        archive = pack_archive(folder / "src", folder / "model.tar.gz")
        payload = folder / "payload.bin"
        _write_payload(payload, args.mb)
        port = _free_port()
        env = {**os.environ, "MODELPORT_HOME": str(folder / "home"), "MODELPORT_HOSTING_PORT": str(port),
               "MODELPORT_MODEL_ROOTS": str(folder), "MODELPORT_HOSTING_ASYNC_MAX_INPUT_MB": str(args.mb)}
        env.pop("AWS_ENDPOINT_URL", None)
        hosting = subprocess.Popen([sys.executable, "-m", "modelport", "hosting"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{url}/ping", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            token = (folder / "home" / "hosting" / "token").read_text().strip()
            creds = {"aws_access_key_id": token, "aws_secret_access_key": "x", "region_name": "us-east-1",
                     "endpoint_url": url}
            sm, rt, s3 = (boto3.client(name, **creds) for name in ("sagemaker", "sagemaker-runtime", "s3"))
            s3.create_bucket(Bucket=BUCKET)
            sm.create_model(ModelName=ENDPOINT, ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
                            PrimaryContainer={"Image": "modelport", "ModelDataUrl": f"file://{archive}"})
            sm.create_endpoint_config(
                EndpointConfigName=ENDPOINT, AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/out"}},
                ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": ENDPOINT, "InstanceType": "ml.m5.large",
                                     "InitialInstanceCount": 1}])
            sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
            sm.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.2})
            started = time.perf_counter()
            s3.upload_file(str(payload), BUCKET, "in/payload.bin", Config=TransferConfig(multipart_chunksize=64 << 20))
            upload_s = time.perf_counter() - started
            payload.unlink()
            Path(f"/proc/{hosting.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS from here on
            before = _memory_kb(hosting.pid)
            started = time.perf_counter()
            answer = rt.invoke_endpoint_async(EndpointName=ENDPOINT, InputLocation=f"s3://{BUCKET}/in/payload.bin",
                                              ContentType="application/octet-stream", InvocationTimeoutSeconds=600)
            key = answer["OutputLocation"].split("/", 3)[3]
            while True:
                try:
                    output = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
                    break
                except s3.exceptions.NoSuchKey:
                    time.sleep(0.05)
            invoke_s = time.perf_counter() - started
            after = _memory_kb(hosting.pid)
        finally:
            hosting.terminate()
            hosting.wait(60)
    result = {"payload_mb": args.mb, "model_saw_bytes": output["bytes"], "upload_s": round(upload_s, 2),
              "invoke_to_output_s": round(invoke_s, 2), "hosting_rss_before_mb": round(before["VmRSS"] / 1024, 1),
              "hosting_peak_rss_during_mb": round(after["VmHWM"] / 1024, 1),
              "hosting_peak_growth_mb": round((after["VmHWM"] - before["VmRSS"]) / 1024, 1)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if output["bytes"] == args.mb << 20 else 1


if __name__ == "__main__":
    sys.exit(main())
