"""Binary bodies through the gateway's Lambda handler: API Gateway events with base64 .npy / PNG bodies vs JSON.

    ../.venv/bin/python lambda_base64.py [--calls 400] [--out results/lambda_base64.json]

In Lambda, API Gateway hands binary bodies to the function base64-encoded (`isBase64Encoded: true`), so a
.npy or PNG digit costs a base64 decode in the handler on top of what JSON costs. This script times
`lambda_function.lambda_handler(event, context)` itself, in this process, for HTTP API (2.0) events that
carry one MNIST digit (the PyTorch race's sample, bench/.work/torch-model) in each form:

- `predict-json`: POST /predict/mnist-pytorch, `{"pixels": [784 floats]}` as plain text (the page's form);
- `predict-json-base64`: the same JSON, base64-encoded (API Gateway with `*/*` as a binary media type);
- `predict-image-json`: POST /predict/mnist-pytorch, `{"image": "<base64 PNG>"}` (JSON carrying base64);
- `invoke-json`: POST /invoke/ENDPOINT, the same JSON passed through untouched;
- `invoke-npy-base64`: POST /invoke/ENDPOINT, a 1×784 float32 .npy, base64-encoded;
- `invoke-png-base64`: POST /invoke/ENDPOINT, the 28×28 PNG, base64-encoded.

Behind the handler is the real thing: `modelport hosting` (a process of its own, as SageMaker is to Lambda)
serving the mnist-pytorch archive on one instance, reached the way Lambda reaches SageMaker (boto3,
`MODELPORT_RUNTIME_CLIENT=boto3`); the gateway's access log is off, as in the other benches. Every
form's answer is checked (the reference probabilities within 1e-5 for pixels and .npy, the label for the
PNG, which goes through the page-style image preprocessing) before it is timed. The forms take turns,
round after round, and each form's median call is reported.
"""
from __future__ import annotations

import argparse
import base64
import importlib.util
import io
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import processes  # noqa: E402
from benchlib.processes import stop_servers_on_sigterm  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ENDPOINT = "mnist-pytorch-lambda"


class LambdaContext:
    """The attributes of Lambda's context object that the handler may read."""

    aws_request_id = "bench-lambda-base64"
    function_name = "modelport-gateway"
    memory_limit_in_mb = 1024

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 28_000


def http_api_event(path: str, content_type: str, body: bytes, base64_encoded: bool) -> dict:
    """An API Gateway HTTP API (payload 2.0) event for POST `path`, shaped like AWS's published sample."""
    route = "POST /predict/{model}" if path.startswith("/predict/") else "POST /invoke/{endpoint}"
    return {
        "version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": content_type, "accept": "application/json",
                    "host": "r3pmxmplak.execute-api.us-east-2.amazonaws.com", "x-forwarded-proto": "https"},
        "requestContext": {"accountId": "123456789012", "apiId": "r3pmxmplak", "stage": "$default",
                           "domainName": "r3pmxmplak.execute-api.us-east-2.amazonaws.com", "requestId": "bench",
                           "routeKey": route, "timeEpoch": 1583817383220,
                           "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "203.0.113.5", "userAgent": "bench"}},
        "isBase64Encoded": base64_encoded,
        "body": base64.b64encode(body).decode() if base64_encoded else body.decode(),
    }


def digit_png(pixels: np.ndarray) -> bytes:
    """The digit as a 28×28 grayscale PNG (white on black, as MNIST)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.round(pixels.reshape(28, 28) * 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def forms(sample: np.ndarray) -> dict[str, tuple[dict, str]]:
    """Each form's event and how its answer is read ("predict" or "invoke" JSON)."""
    pixels_json = json.dumps({"pixels": [float(v) for v in sample]}).encode()
    npy = io.BytesIO()
    np.save(npy, sample.reshape(1, 784).astype(np.float32), allow_pickle=False)
    png = digit_png(sample)
    image_json = json.dumps({"image": base64.b64encode(png).decode()}).encode()
    invoke = f"/invoke/{ENDPOINT}"
    return {
        "predict-json": (http_api_event("/predict/mnist-pytorch", "application/json", pixels_json, False), "predict"),
        "predict-json-base64": (http_api_event("/predict/mnist-pytorch", "application/json", pixels_json, True),
                                "predict"),
        "predict-image-json": (http_api_event("/predict/mnist-pytorch", "application/json", image_json, False),
                               "predict"),
        "invoke-json": (http_api_event(invoke, "application/json", pixels_json, False), "invoke"),
        "invoke-npy-base64": (http_api_event(invoke, "application/x-npy", npy.getvalue(), True), "invoke"),
        "invoke-png-base64": (http_api_event(invoke, "image/png", png, True), "invoke"),
    }


def answer_probabilities(response: dict) -> np.ndarray:
    """The 10 probabilities in a handler response (both routes answer the model's JSON)."""
    if response["statusCode"] != 200:
        raise RuntimeError(f"HTTP {response['statusCode']}: {response.get('body', '')[:300]}")
    body = base64.b64decode(response["body"]) if response.get("isBase64Encoded") else response["body"]
    return np.asarray(json.loads(body)["predictions"][0]["probabilities"], dtype=np.float64)


class Hosting:
    """`modelport hosting` as a process of its own on a free port, with a token and model roots."""

    def __init__(self, work: Path, roots: str) -> None:
        self.token = secrets.token_hex(16)
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        launch = processes.Launch(
            argv=[sys.executable, "-m", "modelport", "hosting", "--port", str(self.port)],
            env={"MODELPORT_HOME": str(work / "home"), "MODELPORT_HOSTING_TOKEN": self.token,
                 "MODELPORT_MODEL_ROOTS": roots}, cwd=work)
        self.process = processes.start(launch, work / "hosting.log")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError(f"hosting did not come up; see {work / 'hosting.log'}")

    def stop(self) -> None:
        """Hosting and its instances, all of them."""
        processes.stop(self.process)


def deploy(server: Hosting, archive: Path) -> None:
    """One instance of the archive behind ENDPOINT, InService."""
    import boto3

    from modelport.hosting.deploy import production_variant, register_model

    creds = {"aws_access_key_id": server.token, "aws_secret_access_key": "x", "region_name": "us-east-1"}
    sm = boto3.client("sagemaker", endpoint_url=server.url, **creds)
    register_model(sm, ENDPOINT, archive, copy=False)
    sm.create_endpoint_config(EndpointConfigName=ENDPOINT,
                              ProductionVariants=[production_variant(ENDPOINT, InitialInstanceCount=1)])
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    deadline = time.monotonic() + 120
    while sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] != "InService":
        if time.monotonic() > deadline:
            raise RuntimeError("the endpoint did not come InService within 120 s")
        time.sleep(0.05)


def load_handler(server: Hosting):
    """`lambda_function.lambda_handler` with a Lambda-like environment pointing at hosting."""
    os.environ.update({
        "AWS_LAMBDA_FUNCTION_NAME": "modelport-gateway", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": server.token, "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": server.url, "MODELPORT_RUNTIME_CLIENT": "boto3",
        "MNIST_PYTORCH_ENDPOINT": ENDPOINT, "MODELPORT_INVOKE_ENDPOINTS": ENDPOINT, "MODELPORT_ACCESS_LOG": "0",
    })
    spec = importlib.util.spec_from_file_location("lambda_function_bench", REPO / "lambda_function.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def main(argv: list[str] | None = None) -> int:
    """Time every form; print a table and optionally write JSON."""
    stop_servers_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=HERE / ".work" / "torch-model",
                        help="folder bench/make_torch_model.py writes (model.tar.gz, sample.json, reference.json)")
    parser.add_argument("--calls", type=int, default=400, help="timed calls per form (default 400)")
    parser.add_argument("--rounds", type=int, default=4, help="the forms take turns this many times (default 4)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here (e.g. results/lambda_base64.json)")
    args = parser.parse_args(argv)
    archive = args.model_dir / "model.tar.gz"
    if not archive.exists():
        print(f"{archive} is missing: run `make -C bench torch-model`", file=sys.stderr)
        return 2
    sample = np.asarray(json.loads((args.model_dir / "sample.json").read_text()), dtype=np.float32)
    reference = np.asarray(json.loads((args.model_dir / "reference.json").read_text()), dtype=np.float64)

    work = Path(tempfile.mkdtemp(prefix="modelport-lambda-bench-"))
    server = Hosting(work, os.pathsep.join([str(work), str(archive.resolve().parent)]))
    results: dict = {"calls_per_round": args.calls // args.rounds * args.rounds, "rounds": args.rounds,
                     "python": sys.version.split()[0], "cpus": os.cpu_count(), "client": "boto3", "forms": {}}
    try:
        deploy(server, archive)
        handler = load_handler(server)
        cases = forms(sample)
        for name, (event, _) in cases.items():  # the gate, and a warm-up of every path
            got = answer_probabilities(handler(event, LambdaContext()))
            if name.endswith("png-base64") or name == "predict-image-json":
                if int(got.argmax()) != int(reference.argmax()):
                    raise RuntimeError(f"{name}: label {int(got.argmax())}, expected {int(reference.argmax())}")
            elif float(np.max(np.abs(got - reference))) > 1e-5:
                raise RuntimeError(f"{name}: probabilities differ from the reference by {np.max(np.abs(got - reference)):.3g}")
            for _ in range(20):
                handler(event, LambdaContext())
        times: dict[str, list[float]] = {name: [] for name in cases}
        per_round = max(args.calls // args.rounds, 1)
        for _ in range(args.rounds):
            for name, (event, _) in cases.items():
                for _ in range(per_round):
                    started = time.perf_counter()
                    response = handler(event, LambdaContext())
                    times[name].append(time.perf_counter() - started)
                    if response["statusCode"] != 200:
                        raise RuntimeError(f"{name}: HTTP {response['statusCode']} while timing")
        base = statistics.median(times["predict-json"]) * 1000
        print(f"{'form':<22} {'event body bytes':>17} {'p50 ms':>8} {'p90 ms':>8} {'vs predict-json':>16}")
        for name, (event, _) in cases.items():
            ms = sorted(t * 1000 for t in times[name])
            row = {"event_body_bytes": len(event["body"]), "base64": event["isBase64Encoded"],
                   "p50_ms": round(statistics.median(ms), 3), "p90_ms": round(ms[int(len(ms) * 0.9)], 3),
                   "mean_ms": round(statistics.fmean(ms), 3), "calls": len(ms)}
            row["p50_vs_predict_json_ms"] = round(row["p50_ms"] - base, 3)
            results["forms"][name] = row
            print(f"{name:<22} {row['event_body_bytes']:>17,} {row['p50_ms']:>8.3f} {row['p90_ms']:>8.3f} "
                  f"{row['p50_vs_predict_json_ms']:>+16.3f}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
