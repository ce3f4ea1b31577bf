"""Shared pieces for the asynchronous inference tests: an async endpoint of the tiny model (tests/helpers/hosting.py),
an input object in hosting's S3, a result read back through boto3 s3, and a local notification webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler

import httpx
from botocore.exceptions import ClientError

from tests.helpers.hosting import auth_headers, wait_in_service
from tests.helpers.standin_server import StandinHTTPServer
from tests.helpers.waiting import eventually

BUCKET = "async-bucket"


def async_endpoint(sm, name: str, model_data: str, *, count: int = 1, per_instance: int | None = None,
                   failure_path: bool = True, env: dict | None = None, wait: bool = True) -> None:
    """Model, async endpoint config (outputs under ``s3://BUCKET/<name>/out``) and endpoint ``name``."""
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
                    PrimaryContainer={"Image": "modelport", "ModelDataUrl": model_data, "Environment": env or {}})
    output = {"S3OutputPath": f"s3://{BUCKET}/{name}/out",
              "NotificationConfig": {"SuccessTopic": "arn:aws:sns:us-east-1:123456789012:ok",
                                     "ErrorTopic": "arn:aws:sns:us-east-1:123456789012:err"}}
    if failure_path:
        output["S3FailurePath"] = f"s3://{BUCKET}/{name}/failed"
    config = {"OutputConfig": output}
    if per_instance:
        config["ClientConfig"] = {"MaxConcurrentInvocationsPerInstance": per_instance}
    sm.create_endpoint_config(EndpointConfigName=name, AsyncInferenceConfig=config, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large",
         "InitialInstanceCount": count}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    if wait:
        wait_in_service(sm, name)


def put_input(s3, key: str, payload: dict | bytes) -> str:
    """Store a request payload in hosting's S3; its s3:// URI."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def split(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key)."""
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def read_object(s3, uri: str) -> bytes | None:
    """The object at ``uri``, or None when there is none (yet)."""
    bucket, key = split(uri)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise


def wait_object(s3, uri: str, timeout: float = 30) -> bytes:
    """Wait until the object at ``uri`` exists; its bytes."""
    return eventually(lambda: read_object(s3, uri), timeout, interval=0.05, message=f"no object at {uri}")


def endpoint_metric(url: str, name: str, endpoint: str) -> float | None:
    """A sample of an asynchronous endpoint in hosting's ``/metrics`` (``ApproximateBacklogSize``,
    ``ExpiredRequests_total``, …), or None when absent."""
    prefix = f'{name}{{endpoint="{endpoint}"}} '
    text = httpx.get(f"{url}/metrics", headers=auth_headers(url)).text
    return next((float(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix)), None)


class Webhook:
    """A local HTTP server that records every JSON document POSTed to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = StandinHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
