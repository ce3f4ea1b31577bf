"""The routes of a model server: ``/ping``, ``/invocations``, ``/execution-parameters``, and ``/metrics``
(every worker's counts, when metrics are on: see :mod:`modelport.runtime.metrics`).

``RuntimeApp`` answers requests inside a worker process that has loaded the model, each request inline
(the fast path); ``BatchingApp`` is the same with adaptive batching of ``/invocations`` (``batching.py``),
chosen by :func:`make_app` only when batching is on and the model can batch; ``LoadingApp`` is what the
supervisor answers while no worker is ready yet (503 to everything).
"""

from __future__ import annotations

import logging
import signal
import time
import traceback
from typing import Any

import orjson

from modelport.metrics.series import CONTENT_TYPE as METRICS_CONTENT_TYPE
from modelport.net.messages import BodyResponse as Response
from modelport.net.messages import Deferred, Request
from modelport.runtime.batching import Batcher, Waiting
from modelport.runtime.environment import RuntimeEnvironment
from modelport.runtime.errors import InferenceError, InferenceTimeout, as_inference_error
from modelport.runtime.metrics import RuntimeMetrics
from modelport.runtime.readiness import Readiness
from modelport.runtime.transformer import Result, Transformer

logger = logging.getLogger("modelport.runtime")

_PING_OK = b'{"status":"Healthy"}'
_JSON = "application/json"


def error_response(status: int, code: str, message: str, close: bool = False) -> Response:
    """The JSON error body every runtime error uses: ``{"error": CODE, "message": ...}``."""
    return Response(status, orjson.dumps({"error": code, "message": message}), _JSON, close=close)


def _with_setting(status: int, message: str) -> str:
    """The HTTP layer's 413 message, naming the setting that raises the limit."""
    return f"{message} SAGEMAKER_MAX_PAYLOAD_IN_MB sets the limit." if status == 413 else message


def _not_found(request: Request) -> Response:
    return error_response(
        404, "NotFound", f"No route {request.method} {request.path}; the model server answers GET /ping, "
        "POST /invocations, GET /execution-parameters and, unless MODELPORT_METRICS=0, GET /metrics."
    )


def metrics_response(request: Request, metrics: RuntimeMetrics | None) -> Response:
    """``GET /metrics``: every worker's metrics (404 when metrics are off)."""
    if metrics is None:
        return _not_found(request)
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request, "GET")
    return Response(200, metrics.render(), METRICS_CONTENT_TYPE)


def _method_not_allowed(request: Request, allowed: str) -> Response:
    return Response(
        405,
        orjson.dumps({"error": "MethodNotAllowed", "message": f"{request.path} accepts {allowed}, not {request.method}."}),
        _JSON,
        headers=[("allow", allowed)],
    )


class _Deadline:
    """Interrupts a request that runs longer than the timeout, with SIGALRM (main thread only)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.armed = False
        signal.signal(signal.SIGALRM, self._expired)

    def _expired(self, signum: int, frame: Any) -> None:
        if self.armed:
            self.armed = False
            raise InferenceTimeout(
                f"The model did not answer within {self.seconds:g} s (SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS)."
            )

    def arm(self) -> None:
        self.armed = True
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def disarm(self) -> None:
        self.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


class RuntimeApp:
    """Serves one loaded model in one worker process."""

    def __init__(self, transformer: Transformer, env: RuntimeEnvironment, readiness: Readiness, index: int = 0,
                 metrics: RuntimeMetrics | None = None):
        self.transformer = transformer
        self.index = index
        self.env = env
        self.readiness = readiness
        self.metrics = metrics
        if metrics is not None:  # metrics off: the hot path is the plain method, not a wrapper
            self.invocations = self.measured_invocations
        self.max_body_bytes = env.max_payload_bytes
        self.deadline = _Deadline(env.timeout_seconds)
        self.busy_poll = None  # a BusyPoll, set by the worker once its event loop runs
        self.execution_parameters = orjson.dumps(
            {"MaxConcurrentTransforms": env.workers, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": int(env.max_payload_mb)}
        )

    def error(self, status: int, code: str, message: str) -> Response:
        """An error response (used by the HTTP layer for malformed, oversized or timed-out requests)."""
        return error_response(status, code, _with_setting(status, message))

    def handle(self, request: Request) -> Response:
        """Route one request."""
        path = request.path
        if path == "/invocations":
            if request.method != "POST":
                return _method_not_allowed(request, "POST")
            return self.invocations(request)
        if path == "/ping":
            if request.method not in ("GET", "HEAD"):
                return _method_not_allowed(request, "GET")
            return self.ping()
        if path == "/execution-parameters":
            return Response(200, self.execution_parameters, _JSON)
        if path == "/metrics":
            return metrics_response(request, self.metrics)
        return _not_found(request)

    def ping(self) -> Response:
        """200 only when every worker has loaded the model and run its warm-up."""
        if self.readiness.all_ready():
            return Response(200, _PING_OK, _JSON)
        ready = self.readiness.count()
        return error_response(
            503, "ModelNotReady", f"{ready} of {self.readiness.workers} workers have loaded the model."
        )

    def invocations(self, request: Request) -> Response:
        """Run the handler pipeline on the request body."""
        headers = request.headers
        deadline = self.deadline
        board = self.readiness
        try:
            deadline.arm()
            board.set_busy(self.index, time.monotonic())
            try:
                content_type = headers.get("content-type") or headers.get("contenttype")  # SageMaker reads both
                result = self.transformer.invoke(request.body, content_type, headers.get("accept"), headers)
            finally:
                deadline.disarm()
                board.set_busy(self.index, 0.0)
        except InferenceError as exc:
            return self._failure(exc)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code may raise anything
            return self._failure(as_inference_error(exc), exc)
        finally:
            if self.busy_poll is not None:
                self.busy_poll.kick()
        return Response(result.status, result.body, result.content_type)

    def measured_invocations(self, request: Request) -> Response:
        """:meth:`invocations`, counted: its status and the handler pipeline's time (ModelLatency)."""
        started = time.perf_counter()
        response = RuntimeApp.invocations(self, request)
        self.metrics.record_invocation(response.status, time.perf_counter() - started)
        return response

    def _failure(self, error: InferenceError, cause: BaseException | None = None) -> Response:
        if error.status >= 500 and cause is not None:
            logger.error("Invocation failed:\n%s", "".join(traceback.format_exception(cause)))
        return error_response(error.status, error.code, error.message)


class BatchingApp(RuntimeApp):
    """A RuntimeApp whose ``/invocations`` requests wait in the batcher and are predicted in batches.

    The whole batch — decoding, the one predict call, encoding — runs under one deadline
    (SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS) with the worker marked busy on the readiness board, as one
    request is on the inline path; a batch that overruns it answers 504 to every request in it.
    """

    def __init__(self, transformer: Transformer, env: RuntimeEnvironment, readiness: Readiness, index: int = 0,
                 metrics: RuntimeMetrics | None = None):
        super().__init__(transformer, env, readiness, index, metrics)
        self.batcher = Batcher(self._run_batch, env.max_batch_size, env.max_batch_delay_ms / 1000,
                               lambda: readiness.connections(index))
        if metrics is not None:
            self.batcher.on_batch = metrics.record_batch

    def handle(self, request: Request) -> Response | Deferred:
        """Route one request; an invocation waits for its batch (answered through a Deferred)."""
        if request.path == "/invocations" and request.method == "POST":
            return self.batcher.submit(request)
        return RuntimeApp.handle(self, request)

    def _run_batch(self, batch: list[Waiting]) -> None:
        if len(batch) == 1:  # alone (low load): the inline path, which is what a batch of one does
            batch[0].answer.resolve(self.invocations(batch[0].payload))
            return
        requests = []
        for waiting in batch:
            headers = waiting.payload.headers
            content_type = headers.get("content-type") or headers.get("contenttype")  # SageMaker reads both
            requests.append((waiting.payload.body, content_type, headers.get("accept"), headers))
        deadline = self.deadline
        board = self.readiness
        started = time.perf_counter()
        try:
            deadline.arm()
            board.set_busy(self.index, time.monotonic())
            try:
                outcomes = self.transformer.invoke_batch(requests)
            finally:
                deadline.disarm()
                board.set_busy(self.index, 0.0)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the deadline, or a failure outside user code
            outcomes = [exc] * len(batch)
        for waiting, outcome in zip(batch, outcomes):
            if isinstance(outcome, Result):
                response = Response(outcome.status, outcome.body, outcome.content_type)
            elif isinstance(outcome, InferenceError):
                response = self._failure(outcome)
            else:
                response = self._failure(as_inference_error(outcome), outcome)
            waiting.answer.resolve(response)
            if self.metrics is not None:  # each request's ModelLatency is its batch's
                self.metrics.record_invocation(response.status, time.perf_counter() - started)
        if self.busy_poll is not None:
            self.busy_poll.kick()


def make_app(transformer: Transformer, env: RuntimeEnvironment, readiness: Readiness, index: int = 0,
             metrics: RuntimeMetrics | None = None) -> RuntimeApp:
    """A BatchingApp when batching is on and the model can batch, else the inline RuntimeApp (either counting
    into ``metrics`` when given)."""
    if env.batching and transformer.batch_mode is not None:
        return BatchingApp(transformer, env, readiness, index, metrics)
    if env.batching:
        logger.info("MODELPORT_MAX_BATCH_SIZE=%d, but this model has no predict_batch_fn / transform_batch_fn and "
                    "does not use the default scikit-learn or PyTorch predict_fn: requests are predicted one by one.",
                    env.max_batch_size)
    return RuntimeApp(transformer, env, readiness, index, metrics)


class LoadingApp:
    """What the supervisor answers while no worker has loaded the model: 503, then hang up."""

    def __init__(self, env: RuntimeEnvironment, readiness: Readiness, metrics: RuntimeMetrics | None = None):
        self.max_body_bytes = env.max_payload_bytes
        self.readiness = readiness
        self.metrics = metrics

    def error(self, status: int, code: str, message: str) -> Response:
        """An error response that closes the connection."""
        return error_response(status, code, _with_setting(status, message), close=True)

    def handle(self, request: Request) -> Response:
        """503 for the model routes, the metrics so far on ``/metrics``, 404 for anything else; always
        ``Connection: close``."""
        if request.path == "/metrics":
            response = metrics_response(request, self.metrics)
        elif request.path in ("/ping", "/invocations", "/execution-parameters"):
            return error_response(
                503,
                "ModelNotReady",
                f"The model is loading ({self.readiness.count()} of {self.readiness.workers} workers ready).",
                close=True,
            )
        else:
            response = _not_found(request)
        response.close = True
        return response
