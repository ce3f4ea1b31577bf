"""The PyTorch race's servers: the bundled `mnist-pytorch` CNN, one 28×28 digit per request, JSON and .npy.

Every server does the same work: decode one digit, the CNN's forward pass (one torch thread per process,
two processes or model instances: 2 cores), softmax, the label and 10 probabilities out as JSON.
modelport serves the archive itself (its own inference.py and mnist_io codec); the peers share
servers/torch/digit_work.py and load the same network file and weights. Names ending in `-npy` send
the digit as a 1×784 float32 .npy body (`application/x-npy`); Triton's binary counterpart is its binary
tensor extension (`triton-binary`).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .processes import Launch, free_port
from .servers import BENCH, REPO, SERVERS_SRC, Context, Server, peer_python

TORCH_SRC = SERVERS_SRC / "torch"
JSON, NPY = "application/json", "application/x-npy"
# Batching, the same limits wherever a server has them: up to 16 digits per forward pass, and a short
# wait for more (modelport does not wait when its queue is empty; Triton's batcher is set not to wait).
MAX_BATCH = 16
MAX_DELAY_MS = 1
THREADS_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # one torch thread per process (2 per 2 cores)


def _pixels_json(sample: list[float]) -> bytes:
    return json.dumps({"pixels": sample}).encode()


def _pixels_npy(sample: list[float]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(sample, dtype=np.float32).reshape(1, 784), allow_pickle=False)
    return buffer.getvalue()


def _triton_json(sample: list[float]) -> bytes:
    return json.dumps({"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "FP32", "data": sample}],
                       "outputs": [{"name": "probabilities"}, {"name": "label"}]}).encode()


def _triton_header() -> bytes:
    return json.dumps({
        "inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "FP32",
                    "parameters": {"binary_data_size": 784 * 4}}],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": False}},
                    {"name": "label", "parameters": {"binary_data": False}}]}).encode()


def _triton_binary(sample: list[float]) -> bytes:
    return _triton_header() + np.asarray(sample, dtype="<f4").tobytes()


def _modelport_parse(body: bytes) -> list[float]:
    return json.loads(body)["predictions"][0]["probabilities"]


def _peer_parse(body: bytes) -> list[float]:
    return json.loads(body)["probabilities"]


def _triton_parse(body: bytes) -> list[float]:
    outputs = json.loads(body)["outputs"]
    return next(o for o in outputs if o["name"] == "probabilities")["data"]


def _model_env(ctx: Context) -> dict[str, str]:
    return {"BENCH_TORCH_MODEL": str(ctx.model_dir), **THREADS_ENV}


def _launch_modelport(batching: bool):
    def launch(ctx: Context, port: int) -> Launch:
        name = "modelport-batch" if batching else "modelport"
        scratch = ctx.scratch(f"torch-{name}")
        env = {"MODELPORT_HOME": str(scratch / "home"), **THREADS_ENV}
        if batching:
            env.update({"MODELPORT_MAX_BATCH_SIZE": str(MAX_BATCH), "MODELPORT_MAX_BATCH_DELAY_MS": str(MAX_DELAY_MS)})
        return Launch(argv=[str(REPO / ".venv" / "bin" / "modelport"), "serve", str(ctx.model_dir / "model.tar.gz"),
                            "--port", str(port), "--workers", "2"], env=env, cwd=scratch)
    return launch


def _launch_fastapi(json_library: str):
    def launch(ctx: Context, port: int) -> Launch:
        return Launch(argv=[str(peer_python("torch-fastapi")), "-m", "uvicorn", "app:app", "--app-dir",
                            str(TORCH_SRC / "fastapi"), "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                            "--no-access-log", "--log-level", "warning"],
                      env={**_model_env(ctx), "BENCH_JSON": json_library}, cwd=ctx.scratch(f"torch-fastapi-{json_library}"))
    return launch


def _launch_script(venv: str, script: str, name: str, extra_env: dict[str, str] | None = None):
    def launch(ctx: Context, port: int) -> Launch:
        return Launch(argv=[str(peer_python(venv)), str(TORCH_SRC / script), str(port)],
                      env={**_model_env(ctx), **(extra_env or {})}, cwd=ctx.scratch(name))
    return launch


def _launch_triton(name: str):
    """PyTriton, with the Python stub Triton starts per model instance loading the venv's own libpython.

    The stub links `libpython3.11.so.1.0` by name; without LD_LIBRARY_PATH the loader finds the system's
    (Debian's 3.11.2), which does not match the venv's standard library (3.11.7) and fails in
    multiprocessing. LIBDIR of the venv's interpreter holds the matching one.
    """
    def launch(ctx: Context, port: int) -> Launch:
        python = peer_python("pytriton")
        libdir = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"],
                                capture_output=True, text=True, check=True).stdout.strip()
        path = ":".join(p for p in (libdir, os.environ.get("LD_LIBRARY_PATH", "")) if p)
        # PyTriton's ZeroMQ sockets live under PYTRITON_HOME, and a socket path is limited to 107 bytes.
        home = Path(tempfile.gettempdir()) / "bench-pytriton"
        shutil.rmtree(home, ignore_errors=True)
        return Launch(argv=[str(python), str(TORCH_SRC / "pytriton" / "server.py"), str(port)],
                      env={**_model_env(ctx), "LD_LIBRARY_PATH": path, "PYTRITON_HOME": str(home)},
                      cwd=ctx.scratch(name))
    return launch


def _launch_torchserve(ctx: Context, port: int) -> Launch:
    scratch = ctx.scratch("torchserve")
    store = scratch / "model-store"
    store.mkdir()
    bin_dir = BENCH / ".peers" / "torchserve" / "bin"
    subprocess.run([str(bin_dir / "torch-model-archiver"), "--model-name", "mnist", "--version", "1.0",
                    "--serialized-file", str(ctx.model_dir / "artifacts" / "model.pth"),
                    "--handler", str(TORCH_SRC / "torchserve" / "handler.py"),
                    "--extra-files", f"{ctx.model_dir / 'digit_cnn.py'},{ctx.model_dir / 'npy_body.py'},"
                                     f"{TORCH_SRC / 'digit_work.py'}",
                    "--export-path", str(store)], check=True, capture_output=True)
    models = {"mnist": {"1.0": {"defaultVersion": True, "marName": "mnist.mar", "minWorkers": 2, "maxWorkers": 2,
                                "batchSize": MAX_BATCH, "maxBatchDelay": MAX_DELAY_MS, "responseTimeout": 120}}}
    (scratch / "config.properties").write_text("\n".join([
        f"inference_address=http://127.0.0.1:{port}",
        f"management_address=http://127.0.0.1:{free_port()}",
        f"metrics_address=http://127.0.0.1:{free_port()}",
        f"model_store={store}",
        "load_models=mnist.mar",
        f"models={json.dumps(models)}",
        "default_workers_per_model=2",
        "job_queue_size=1000",  # the default 100 answers 503 to part of 256 connections instead of queueing them
        "disable_token_authorization=true",
        "enable_envvars_config=false",
        "install_py_dep_per_model=false",
        f"vmargs=-Dlog4j.configurationFile=file://{TORCH_SRC / 'torchserve' / 'log4j2.xml'}",
    ]) + "\n")
    return Launch(argv=[str(bin_dir / "torchserve"), "--start", "--foreground", "--ncs", "--disable-token-auth",
                        "--ts-config", str(scratch / "config.properties"), "--model-store", str(store)],
                  env={**THREADS_ENV, "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                       "LOG_LOCATION": str(scratch / "logs"), "METRICS_LOCATION": str(scratch / "logs"),
                       "TEMP": str(scratch), "TMPDIR": str(scratch)},
                  cwd=scratch)


_MODELPORT_CONFIG = ("`modelport serve model.tar.gz --port P --workers 2` of the bundled archive (its own "
                     "inference.py: mnist_io decode with range checks via orjson, DigitCNN compiled by "
                     "`digit_cnn.for_inference`, softmax, JSON via orjson), "
                     "OMP_NUM_THREADS=1")
_FASTAPI_CONFIG = ("uvicorn (uvloop, httptools) `--workers 2 --no-access-log`, `async def` handler on the raw body, "
                   "predicting on the event loop, one torch thread per worker")
_LITSERVE_CONFIG = (f"`LitAPI(max_batch_size={MAX_BATCH}, batch_timeout={MAX_DELAY_MS / 1000})`, `LitServer("
                    "accelerator=\"cpu\", workers_per_device=2, fast_queue=True)` (2 API-server processes by default), "
                    "one torch thread per worker, log level warning")
_TORCHSERVE_CONFIG = (f"TorchServe 0.12 (Java 17 front end), custom handler, `minWorkers=maxWorkers=2`, "
                      f"`batchSize={MAX_BATCH}`, `maxBatchDelay={MAX_DELAY_MS}` ms, `job_queue_size=1000`, token auth off, "
                      "access and metrics logs at warn, OMP_NUM_THREADS=1 (its CPU performance checklist: workers × threads = cores)")
_TRITON_CONFIG = (f"PyTriton's bundled tritonserver, `max_batch_size={MAX_BATCH}`, dynamic batcher with "
                  "`max_queue_delay_microseconds=0`, 2 model instances, one torch thread")
_RAY_CONFIG = (f"Ray Serve, local Ray of 2 CPUs without dashboard, 2 replicas × `num_cpus=1`, "
               f"`@serve.batch(max_batch_size={MAX_BATCH}, batch_wait_timeout_s={MAX_DELAY_MS / 1000})`, "
               "`max_ongoing_requests=32`, RAY_SERVE_THROUGHPUT_OPTIMIZED=1, access log off")
_TORCH_PACKAGES = ["torch", "numpy"]
_RAY_ENV = {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1", "RAY_USAGE_STATS_ENABLED": "0"}


def _variants(name: str, title: str, config: str, venv: str | None, packages: list[str], path: str, launch,
              parse, formats=("json", "npy"), startup_timeout: float = 180.0) -> list[Server]:
    """The server's JSON row and, where it takes one, its .npy row."""
    rows = []
    for kind in formats:
        rows.append(Server(
            name=name if kind == "json" else f"{name}-npy", title=title if kind == "json" else f"{title} (npy)",
            config=config + ("; body `{\"pixels\": [784 floats]}`" if kind == "json" else
                             "; body a 1×784 float32 .npy (application/x-npy)"),
            venv=venv, packages=packages, path=path, content_type=JSON if kind == "json" else NPY,
            body=_pixels_json if kind == "json" else _pixels_npy, parse=parse, launch=launch,
            startup_timeout=startup_timeout))
    return rows


TORCH_SERVERS: dict[str, Server] = {s.name: s for s in [
    *_variants("modelport", "modelport", _MODELPORT_CONFIG, None,
               ["modelport", "torch", "numpy", "uvloop", "httptools"], "/invocations",
               _launch_modelport(batching=False), _modelport_parse),
    *_variants("modelport-batch", "modelport batching",
               _MODELPORT_CONFIG + f", MODELPORT_MAX_BATCH_SIZE={MAX_BATCH}, MODELPORT_MAX_BATCH_DELAY_MS={MAX_DELAY_MS}",
               None, ["modelport", "torch", "numpy", "uvloop", "httptools"], "/invocations",
               _launch_modelport(batching=True), _modelport_parse),
    *_variants("torchserve", "TorchServe 0.12", _TORCHSERVE_CONFIG, "torchserve",
               ["torchserve", "torch-model-archiver", *_TORCH_PACKAGES], "/predictions/mnist",
               _launch_torchserve, _peer_parse),
    Server(name="triton", title="Triton (PyTriton)", config=_TRITON_CONFIG + "; body KServe-v2 JSON, FP32 [1,784]",
           venv="pytriton", packages=["nvidia-pytriton", "tritonclient", *_TORCH_PACKAGES],
           path="/v2/models/mnist/infer", content_type=JSON, body=_triton_json, parse=_triton_parse,
           launch=_launch_triton("triton")),
    Server(name="triton-binary", title="Triton (PyTriton, binary)",
           config=_TRITON_CONFIG + "; body the binary tensor extension: JSON header + 3,136 raw float32 bytes",
           venv="pytriton", packages=["nvidia-pytriton", "tritonclient", *_TORCH_PACKAGES],
           path="/v2/models/mnist/infer", content_type="application/octet-stream", body=_triton_binary,
           parse=_triton_parse, launch=_launch_triton("triton-binary"),
           headers={"Inference-Header-Content-Length": str(len(_triton_header()))}),
    *_variants("litserve", "LitServe", _LITSERVE_CONFIG, "torch-litserve", ["litserve", *_TORCH_PACKAGES],
               "/predict", _launch_script("torch-litserve", "litserve/server.py", "torch-litserve",
                                          {"LITSERVE_DISABLE_TELEMETRY": "1"}),
               _peer_parse, formats=("json",)),
    *_variants("fastapi", "FastAPI", _FASTAPI_CONFIG, "torch-fastapi", ["fastapi", "uvicorn", *_TORCH_PACKAGES],
               "/predict", _launch_fastapi("json"), _peer_parse),
    *_variants("fastapi-orjson", "FastAPI + orjson", _FASTAPI_CONFIG + ", hand-tuned: orjson parses the body and "
               "writes the answer", "torch-fastapi", ["fastapi", "uvicorn", "orjson", *_TORCH_PACKAGES],
               "/predict", _launch_fastapi("orjson"), _peer_parse, formats=("json",)),
    *_variants("rayserve", "Ray Serve", _RAY_CONFIG, "rayserve", ["ray", *_TORCH_PACKAGES], "/predict",
               _launch_script("rayserve", "rayserve/server.py", "rayserve", _RAY_ENV), _peer_parse),
]}

# The bar's peers (issue 15): modelport with batching against the best of these, JSON and .npy rows alike.
TORCH_PEERS = [name for name in TORCH_SERVERS if not name.startswith("modelport")]
