"""The servers under test: how to prepare, start and call each, and how to read its answer.

Every server gets the same 784 floats and does the same work (parse JSON, predict_proba on one row,
JSON out), in its own natural request format, with 2 worker processes where it has the knob.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .processes import Launch, free_port

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
SERVERS_SRC = BENCH / "servers"


@dataclass
class Context:
    """Paths shared by every server: the model dir (model.joblib) and a scratch dir per server."""

    work: Path
    model_dir: Path

    @property
    def model_file(self) -> Path:
        """The one model.joblib every server loads."""
        return self.model_dir / "model.joblib"

    def scratch(self, name: str) -> Path:
        """A fresh scratch folder for one server."""
        path = self.work / "servers" / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path


def peer_python(venv: str) -> Path:
    """The Python of one peer's virtual environment."""
    return BENCH / ".peers" / venv / "bin" / "python"


def _rows(sample: list[float]) -> list[list[float]]:
    return [sample]


def _first_row(key: str | None = None) -> Callable[[bytes], list[float]]:
    def parse(body: bytes) -> list[float]:
        value = json.loads(body)
        return (value[key] if key else value)[0]
    return parse


def _mlserver_parse(body: bytes) -> list[float]:
    output = json.loads(body)["outputs"][0]
    return output["data"][:10]


@dataclass
class Server:
    """One server under test."""

    name: str
    title: str
    config: str                                 # how it is configured (README)
    venv: str | None                            # peer venv under bench/.peers, None = the repo's .venv
    packages: list[str]                         # whose versions to report
    path: str
    content_type: str
    body: Callable[[list[float]], bytes]
    parse: Callable[[bytes], list[float]] | None  # None: no model (the HTTP floor)
    launch: Callable[[Context, int], Launch]
    startup_timeout: float = 180.0
    notes: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # request headers beyond Content-Type and Accept

    @property
    def python(self) -> Path:
        """Interpreter that runs this server."""
        return peer_python(self.venv) if self.venv else REPO / ".venv" / "bin" / "python"


def _uvicorn(ctx: Context, port: int, target: str, app_dir: Path, name: str) -> Launch:
    return Launch(
        argv=[str(peer_python("fastapi")), "-m", "uvicorn", target, "--app-dir", str(app_dir),
              "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
              "--no-access-log", "--log-level", "warning"],
        env={"BENCH_MODEL": str(ctx.model_file)}, cwd=ctx.scratch(name))


def _launch_modelport(ctx: Context, port: int, name: str = "modelport", extra: tuple[str, ...] = ()) -> Launch:
    scratch = ctx.scratch(name)
    model = scratch / "model"
    model.mkdir()
    shutil.copy2(ctx.model_file, model / "model.joblib")
    shutil.copytree(SERVERS_SRC / "modelport" / "code", model / "code",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return Launch(argv=[str(REPO / ".venv" / "bin" / "modelport"), "serve", str(model),
                        "--port", str(port), "--workers", "2", *extra],
                  env={"MODELPORT_HOME": str(scratch / "home")}, cwd=scratch)


def _launch_mlserver(ctx: Context, port: int, name: str = "mlserver", model_settings: str = "model-settings.json") -> Launch:
    scratch = ctx.scratch(name)
    shutil.copy2(SERVERS_SRC / "mlserver" / "settings.json", scratch / "settings.json")
    model = scratch / "mnist"
    model.mkdir()
    shutil.copy2(SERVERS_SRC / "mlserver" / model_settings, model / "model-settings.json")
    shutil.copy2(ctx.model_file, model / "model.joblib")
    mlserver = BENCH / ".peers" / "mlserver" / "bin" / "mlserver"
    return Launch(argv=[str(mlserver), "start", str(scratch)],
                  env={"MLSERVER_HTTP_PORT": str(port), "MLSERVER_GRPC_PORT": str(free_port()),
                       "MLSERVER_METRICS_PORT": str(free_port())}, cwd=scratch)


def _launch_bentoml(ctx: Context, port: int, name: str = "bentoml", target: str = "service:MnistClassifier") -> Launch:
    scratch = ctx.scratch(name)
    bentoml = BENCH / ".peers" / "bentoml" / "bin" / "bentoml"
    return Launch(argv=[str(bentoml), "serve", target, "--working-dir",
                        str(SERVERS_SRC / "bentoml"), "--host", "127.0.0.1", "--port", str(port)],
                  env={"BENCH_MODEL": str(ctx.model_file), "BENTOML_HOME": str(scratch / "home"),
                       "BENTOML_DO_NOT_TRACK": "True"}, cwd=scratch)


def _launch_litserve(ctx: Context, port: int) -> Launch:
    scratch = ctx.scratch("litserve")
    return Launch(argv=[str(peer_python("litserve")), str(SERVERS_SRC / "litserve" / "server.py"), str(port)],
                  env={"BENCH_MODEL": str(ctx.model_file), "LITSERVE_DISABLE_TELEMETRY": "1"}, cwd=scratch)


def _launch_sagemaker(ctx: Context, port: int) -> Launch:
    scratch = ctx.scratch("sagemaker")
    model = scratch / "model"  # $SAGEMAKER_BASE_DIR/model, like /opt/ml/model
    model.mkdir()
    shutil.copy2(ctx.model_file, model / "model.joblib")
    tmp = scratch / "tmp"
    tmp.mkdir()
    venv_bin = BENCH / ".peers" / "sagemaker" / "bin"
    return Launch(argv=[str(venv_bin / "python"), str(SERVERS_SRC / "sagemaker" / "serve.py")],
                  env={"SAGEMAKER_BASE_DIR": str(scratch), "SAGEMAKER_BIND_TO_PORT": str(port),
                       "SAGEMAKER_MODEL_SERVER_WORKERS": "2", "BENCH_SAGEMAKER_HOME": str(scratch),
                       "PYTHONPATH": str(SERVERS_SRC / "sagemaker"), "TMPDIR": str(tmp), "TEMP": str(tmp),
                       "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"},
                  cwd=scratch)


def _json(value) -> bytes:
    return json.dumps(value).encode()


SERVERS: dict[str, Server] = {s.name: s for s in [
    Server(
        name="modelport", title="modelport",
        config="`modelport serve DIR --port P --workers 2`; code/inference.py (orjson) with model_fn/input_fn/"
               "predict_fn/output_fn; body `[[784 floats]]`",
        venv=None, packages=["modelport", "scikit-learn", "numpy", "orjson", "uvloop", "httptools"],
        path="/invocations", content_type="application/json",
        body=lambda s: _json(_rows(s)), parse=_first_row(), launch=_launch_modelport,
        notes=["the bench inference.py parses and writes JSON with orjson (users can do the same)"]),
    Server(
        name="mlserver", title="MLServer 1.7",
        config="`mlserver start` with mlserver_sklearn.SKLearnModel, `parallel_workers: 2`, `debug: false`; "
               "V2 request (FP32 [1,784]) asking for output `predict_proba`",
        venv="mlserver", packages=["mlserver", "mlserver-sklearn", "scikit-learn", "numpy", "uvicorn"],
        path="/v2/models/mnist/infer", content_type="application/json",
        body=lambda s: _json({"inputs": [{"name": "input-0", "shape": [1, len(s)], "datatype": "FP32",
                                          "data": s}],
                              "outputs": [{"name": "predict_proba"}]}),
        parse=_mlserver_parse, launch=_launch_mlserver),
    Server(
        name="bentoml", title="BentoML",
        config="`bentoml serve`, `@bentoml.service(workers=2)`, sync `@bentoml.api` taking `np.ndarray`; "
               "body `{\"instances\": [[784 floats]]}`",
        venv="bentoml", packages=["bentoml", "scikit-learn", "numpy", "uvicorn"],
        path="/predict", content_type="application/json",
        body=lambda s: _json({"instances": _rows(s)}), parse=_first_row(), launch=_launch_bentoml),
    Server(
        name="litserve", title="LitServe",
        config="`LitServer(accelerator=\"cpu\", workers_per_device=2)` (2 API servers by default), "
               "log level warning; body `{\"instances\": [[784 floats]]}`",
        venv="litserve", packages=["litserve", "scikit-learn", "numpy", "uvicorn"],
        path="/predict", content_type="application/json",
        body=lambda s: _json({"instances": _rows(s)}), parse=_first_row("probabilities"),
        launch=_launch_litserve),
    Server(
        name="fastapi-sync", title="FastAPI sync",
        config="uvicorn (uvloop, httptools) `--workers 2 --no-access-log`, `def` handler with a pydantic "
               "body model; body `{\"instances\": [[784 floats]]}`",
        venv="fastapi", packages=["fastapi", "uvicorn", "pydantic", "scikit-learn", "numpy"],
        path="/predict", content_type="application/json",
        body=lambda s: _json({"instances": _rows(s)}), parse=_first_row("probabilities"),
        launch=lambda ctx, port: _uvicorn(ctx, port, "app:app_sync", SERVERS_SRC / "fastapi", "fastapi-sync")),
    Server(
        name="fastapi-async", title="FastAPI async",
        config="as FastAPI sync, with an `async def` handler",
        venv="fastapi", packages=["fastapi", "uvicorn", "pydantic", "scikit-learn", "numpy"],
        path="/predict", content_type="application/json",
        body=lambda s: _json({"instances": _rows(s)}), parse=_first_row("probabilities"),
        launch=lambda ctx, port: _uvicorn(ctx, port, "app:app_async", SERVERS_SRC / "fastapi", "fastapi-async")),
    Server(
        name="fastapi-orjson", title="FastAPI orjson (ref.)",
        config="reference row, not a bar peer: uvicorn `--workers 2 --no-access-log`, `async def` handler on the "
               "raw body with orjson both ways, no pydantic; body `[[784 floats]]`",
        venv="fastapi", packages=["fastapi", "uvicorn", "orjson", "scikit-learn", "numpy"],
        path="/predict", content_type="application/json",
        body=lambda s: _json(_rows(s)), parse=_first_row(),
        launch=lambda ctx, port: _uvicorn(ctx, port, "lean:app", SERVERS_SRC / "fastapi", "fastapi-orjson")),
    Server(
        name="sagemaker", title="SageMaker stack",
        config="sagemaker-inference `start_model_server()` + multi-model-server (Java 17 front end), "
               "`SAGEMAKER_MODEL_SERVER_WORKERS=2`, handler service with the toolkit's JSON codecs; "
               "body `[[784 floats]]`",
        venv="sagemaker", packages=["sagemaker-inference", "multi-model-server", "scikit-learn", "numpy"],
        path="/invocations", content_type="application/json",
        body=lambda s: _json(_rows(s)), parse=_first_row(), launch=_launch_sagemaker),
    Server(
        name="floor", title="HTTP floor",
        config="raw ASGI app under uvicorn `--workers 2 --no-access-log`: drains the body, returns a constant",
        venv="fastapi", packages=["uvicorn", "uvloop", "httptools"],
        path="/", content_type="application/json",
        body=lambda s: _json(_rows(s)), parse=None,
        launch=lambda ctx, port: _uvicorn(ctx, port, "app:app", SERVERS_SRC / "floor", "floor")),
]}

from .batch_servers import batch_rows  # noqa: E402 - the batching rows reuse the rows and launchers above

SERVERS.update((server.name, server) for server in batch_rows(sys.modules[__name__]))

# The peers: the bar compares modelport with the best of these. The floor and the hand-tuned
# FastAPI are reference rows.
PEERS = [name for name in SERVERS if name not in ("modelport", "modelport-batch", "floor", "fastapi-orjson")]
