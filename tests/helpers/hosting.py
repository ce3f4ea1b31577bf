"""Shared pieces for the hosting tests: a tiny real archive, an in-process hosting server, and boto3
clients pointed at it (hosting's token as the access key id, ``endpoint_url``).

Every hosting a test starts has its own token; :func:`clients`, :func:`instances` and
:func:`auth_headers` find it by the hosting's URL (:func:`remember_token` for a hosting process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from modelport.archive import pack_archive
from modelport.hosting.server import HostingServer
from modelport.hosting.settings import HostingSettings
from modelport.token import hosting_token
from modelport.token import load as load_token
from tests.helpers.processes import free_port, stop, wait_until_up
from tests.helpers.waiting import eventually

# A model whose answers say which instance and variant served them. Env: SCALE multiplies x,
# TAG names the model version, FAIL_LOAD makes model_fn fail (the server then exits non-zero).
INFERENCE = '''
import json, os, time

def model_fn(model_dir):
    if os.environ.get("FAIL_LOAD"):
        raise RuntimeError("model_fn failed on purpose (FAIL_LOAD is set)")
    with open(os.path.join(model_dir, "weights.json")) as f:
        weights = json.load(f)
    return {"scale": float(os.environ.get("SCALE", weights["scale"])), "tag": os.environ.get("TAG", "v1")}

def input_fn(body, content_type, context):
    if content_type != "application/json":
        from sagemaker_inference import errors
        raise errors.GenericInferenceToolkitError(415, "only application/json is accepted, got " + str(content_type))
    data = json.loads(body)
    data["_attrs"] = context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes")
    return data

def predict_fn(data, model):
    if data.get("fail"):
        from sagemaker_inference import errors
        raise errors.GenericInferenceToolkitError(400, "bad x: " + str(data.get("x")))
    if data.get("sleep"):
        time.sleep(data["sleep"])
    if data.get("stream"):
        return ("part-%d;" % i for i in range(int(data["stream"])))
    return {"y": data.get("x", 0) * model["scale"], "tag": model["tag"], "pid": os.getpid(),
            "attrs": data["_attrs"]}

def output_fn(prediction, accept):
    if not isinstance(prediction, dict):
        return (chunk.encode() for chunk in prediction)
    return json.dumps(prediction), "application/json"
'''

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def make_archive(root: Path, scale: float = 2.0) -> Path:
    """Pack the tiny model into ``root/model.tar.gz``."""
    src = root / "src"
    (src / "code").mkdir(parents=True, exist_ok=True)
    (src / "code" / "inference.py").write_text(textwrap.dedent(INFERENCE))
    (src / "weights.json").write_text('{"scale": %s}' % scale)
    return pack_archive(src, root / "model.tar.gz")


_TOKENS: dict[str, str] = {}  # hosting URL → its token


def start_hosting(home: Path, **settings) -> HostingServer:
    """An in-process hosting server on a free port with its state in ``home``.

    The system's temporary folder (where pytest keeps each test's archives) is an allowed model root,
    as a user lists their models folder in MODELPORT_MODEL_ROOTS.
    """
    options = {"port": 0, "startup_timeout": 60.0, "model_roots": tempfile.gettempdir(), **settings}
    server = HostingServer(home=home, settings=HostingSettings(**options)).start()
    _TOKENS[server.url] = server.token
    return server


def remember_token(url: str, home: Path) -> str:
    """Note the token of a `modelport hosting` process that keeps its state in ``home``; return it."""
    _TOKENS[url] = hosting_token(home)
    return _TOKENS[url]


def token_for(url: str) -> str:
    """The token of the hosting at ``url`` (else MODELPORT_HOSTING_TOKEN or this process's MODELPORT_HOME's file)."""
    known = _TOKENS.get(url.rstrip("/"))
    if known:
        return known
    try:
        return load_token(create=False).value
    except FileNotFoundError:
        return "no-token-known-for-" + url.rstrip("/")


def auth_headers(url: str) -> dict[str, str]:
    """Headers that let a plain HTTP request through hosting's gate."""
    return {"Authorization": f"Bearer {token_for(url)}"}


def clients(url: str, retries: int = 0, token: str | None = None):
    """boto3 ``sagemaker`` and ``sagemaker-runtime`` clients for ``url``, with its hosting's token."""
    config = Config(retries={"max_attempts": retries, "mode": "standard"} if retries else {"max_attempts": 1},
                    max_pool_connections=32)
    creds = {"aws_access_key_id": token or token_for(url), "aws_secret_access_key": "testing"}
    sm = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1", config=config, **creds)
    rt = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1", config=config, **creds)
    return sm, rt


def autoscaling_client(url: str):
    """A boto3 ``application-autoscaling`` client for the hosting at ``url`` (no retries)."""
    return boto3.client("application-autoscaling", endpoint_url=url, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}), aws_access_key_id=token_for(url),
                        aws_secret_access_key="testing")


def wait_in_service(sm, name: str, timeout: float = 90) -> dict:
    """The boto3 waiter, polling fast; returns the final DescribeEndpoint."""
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": int(timeout / 0.1)})
    return sm.describe_endpoint(EndpointName=name)


def wait_status(sm, name: str, statuses: tuple[str, ...], timeout: float = 90) -> dict:
    """Poll DescribeEndpoint until its status is one of ``statuses``."""
    described: dict = {}

    def reached() -> dict | None:
        described.update(sm.describe_endpoint(EndpointName=name))
        return dict(described) if described["EndpointStatus"] in statuses else None

    return eventually(reached, timeout, message=lambda: f"{name} stayed {described['EndpointStatus']}: "
                                                       f"{described.get('FailureReason')}")


def deploy(sm, name: str, model_data: str, *, variants: list[dict] | None = None, count: int = 1,
           env: dict | None = None, wait: bool = True) -> dict | None:
    """Model ``name`` + config ``name`` + endpoint ``name``; ``variants`` = [{"name", "weight", "count", "env"}]."""
    variants = variants or [{"name": "AllTraffic", "weight": 1.0, "count": count, "env": env or {}}]
    production = []
    for v in variants:
        model = f"{name}-{v['name']}".lower()
        sm.create_model(ModelName=model, ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
                        PrimaryContainer={"Image": "modelport", "ModelDataUrl": model_data,
                                          "Environment": v.get("env") or {}})
        production.append({"VariantName": v["name"], "ModelName": model, "InstanceType": "ml.m5.large",
                           "InitialInstanceCount": v.get("count", 1), "InitialVariantWeight": v.get("weight", 1.0)})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=production)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return wait_in_service(sm, name) if wait else None


def instances(url: str, name: str) -> list[dict]:
    """The instances of every variant of ``name`` (hosting's status API)."""
    import httpx

    data = httpx.get(f"{url}/_modelport/endpoints/{name}/instances", headers=auth_headers(url)).json()
    return [i for v in data["Variants"] for i in v["Instances"]]


class MotoS3:
    """moto in server mode (a real HTTP S3 endpoint on 127.0.0.1); sets ``AWS_ENDPOINT_URL_S3`` while running."""

    def __init__(self, monkeypatch) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", self.url)
        self.client = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1")

    def stop(self) -> None:
        self._server.stop()


class HostingProcess:
    """``modelport hosting`` as its own process on a fixed port (so clients keep their endpoint URL
    across a restart), with its state in ``home``, its output appended to ``log`` and ``env`` added to
    its environment. ``token`` is its token (known to :func:`token_for` once started)."""

    def __init__(self, home: Path, log: Path, *, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.home, self.log_path, self.extra_env = home, log, dict(env or {})
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "HostingProcess":
        """Start and wait until ``/ping`` answers (failing with its log if it cannot start)."""
        env = {**os.environ, "MODELPORT_HOME": str(self.home), "MODELPORT_HOSTING_PORT": str(self.port),
               "MODELPORT_HOSTING_STARTUP_TIMEOUT": "90"}
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            env.pop(name, None)
        env.update(self.extra_env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "modelport", "hosting"], env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_up(f"{self.url}/ping", self.process, self.log, timeout=timeout)
        given = self.extra_env.get("MODELPORT_HOSTING_TOKEN")
        self.token = given or remember_token(self.url, self.home)
        _TOKENS[self.url] = self.token
        return self

    def log(self) -> str:
        """Its output so far."""
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9 hosting (its instances follow it: they die with their parent)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> int | None:
        """Stop hosting cleanly (its instances stop too); SIGKILL after 60 s. Its exit code."""
        return stop(self.process, grace=60)


class Load:
    """Threads invoking an endpoint in a loop (``body``, by default ``{"x": 1}``), recording each answer's ``tag``
    and each failure (a SageMaker error as its repr plus the model's own message, anything else as its repr)."""

    def __init__(self, rt, endpoint: str, threads: int = 3, body: bytes = b'{"x": 1}') -> None:
        self.rt, self.endpoint, self.body = rt, endpoint, body
        self.tags: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = self.rt.invoke_endpoint(EndpointName=self.endpoint, Body=self.body,
                                                   ContentType="application/json")
                self.tags.append(json.loads(response["Body"].read())["tag"])
            except ClientError as exc:
                self.failures.append(f"{exc!r} {exc.response.get('OriginalMessage', '')}")
            except Exception as exc:  # noqa: BLE001 - every failure counts against the endpoint
                self.failures.append(repr(exc))

    def __enter__(self) -> "Load":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def wait_for(self, count: int, timeout: float = 30) -> None:
        """Until at least ``count`` more answers arrived."""
        target = len(self.tags) + count
        eventually(lambda: len(self.tags) >= target, timeout, 0.01, message=lambda: f"load stalled: {self.failures[-3:]}")
        assert len(self.tags) >= target, f"load stalled: {self.failures[-3:]}"
