"""SageMaker's Runtime API: ``POST /endpoints/{name}/invocations`` and ``/invocations-response-stream``.

The body and the model's answer are forwarded as bytes over pooled keep-alive connections; only
headers are translated. Errors are shaped so botocore raises ``ValidationError``, ``ModelError``,
``ModelNotReadyException`` or ``ServiceUnavailable``.

A request is tried on another instance only when no connection to its instance could be opened: a
request that was sent may have run, and resending one that killed a worker would kill the next
instance too. A sent request whose connection died unanswered is a ``ModelError`` (status 500)
saying that the worker died and where its log is.

Each invocation of a live endpoint is counted here (:mod:`.metrics`, unless MODELPORT_METRICS=0):
ModelLatency from sending to the instance until its answer, OverheadLatency the rest of hosting's time.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

from modelport.hosting import errors, eventstream, serverless
from modelport.hosting.errors import RuntimeApiError
from modelport.hosting.multi_model.config import ConfigError, check_target
from modelport.hosting.router import NoTarget
from modelport.hosting.service import CREATING, SYSTEM_UPDATING, Hosting
from modelport.net.messages import Request, Response
from modelport.net.upstream import StreamedBody, UpstreamError

MAX_BODY = 6 * 1024 * 1024  # SageMaker's 6 MB payload limit (botocore's BodyBlob max, 6291456 bytes)
_FORWARDED = (
    ("content-type", "Content-Type"),
    ("accept", "Accept"),
    ("x-amzn-sagemaker-custom-attributes", "X-Amzn-SageMaker-Custom-Attributes"),
    ("x-amzn-sagemaker-inference-id", "X-Amzn-SageMaker-Inference-Id"),
)
TARGET_MODEL_HEADER = "x-amzn-sagemaker-target-model"
_RETRIES = 2  # other instances tried when no connection to one could be opened (crashed, restarting)


class RuntimeApi:
    """Routes invocations to the endpoints' instances."""

    def __init__(self, hosting: Hosting) -> None:
        self.hosting = hosting
        self.metrics = hosting.metrics
        self.timeout = hosting.settings.invocation_timeout
        self.account = hosting.settings.account

    async def invoke(self, request: Request, endpoint: str, stream: bool = False) -> Response:
        """Answer one InvokeEndpoint (or InvokeEndpointWithResponseStream) request."""
        try:
            return await self._invoke(request, endpoint, stream)
        except RuntimeApiError as exc:
            return error_response(exc)

    def live(self, endpoint: str):
        """The live endpoint that takes invocations now, or the error saying why it does not."""
        live = self.hosting.live.get(endpoint)
        if live is not None and live.router is not None:
            return live
        row = self.hosting.registry.get_endpoint(endpoint)
        if row is None:
            raise errors.validation_error(f"Endpoint {endpoint} of account {self.account} not found.")
        if row["status"] in (CREATING, SYSTEM_UPDATING):
            raise errors.model_not_ready(f"Endpoint {endpoint} is {row['status']}; it accepts invocations once it "
                                         f"is InService.")
        raise errors.validation_error(f"Endpoint {endpoint} of account {self.account} is in status "
                                      f"{row['status']} and cannot take invocations"
                                      + (f": {row['failure_reason']}" if row["failure_reason"] else "."))

    async def _invoke(self, request: Request, endpoint: str, stream: bool) -> Response:
        started = time.perf_counter()
        live = self.live(endpoint)
        headers = request.headers
        target_model = headers.get(TARGET_MODEL_HEADER)
        if target_model is not None or live.multi_model:
            self._check_target_model(endpoint, live, target_model)
        if live.fleets and live.fleets[0].async_config:
            self._refused(endpoint, 400)
            raise errors.validation_error(f"Endpoint {endpoint} is an asynchronous inference endpoint (its endpoint "
                                          f"config has AsyncInferenceConfig); it takes InvokeEndpointAsync only.")
        target = headers.get("x-amzn-sagemaker-target-variant")
        forward = [(name, headers[key]) for key, name in _FORWARDED if key in headers]
        if stream and "x-amzn-sagemaker-accept" in headers:
            forward.append(("Accept", headers["x-amzn-sagemaker-accept"]))
        gate = next((f.serverless for f in live.fleets if f.serverless is not None), None)
        if gate is not None:
            return await self._serverless(gate, live, request, endpoint, stream, target, forward, started)
        return await self._forward(live, request, endpoint, stream, target, forward, started, target_model)

    def _check_target_model(self, endpoint: str, live, target_model: str | None) -> None:
        """Refuse TargetModel on a single-model endpoint, a multi-model call without one, or a bad name, as
        SageMaker does (ValidationError)."""
        if target_model is None:
            self._refused(endpoint, 400)
            raise errors.validation_error(f"Request {uuid.uuid4()} is missing a target model header: endpoint "
                                          f"{endpoint} is a multi-model endpoint; set TargetModel "
                                          f"(X-Amzn-SageMaker-Target-Model) to an archive under its ModelDataUrl.")
        if not live.multi_model:
            self._refused(endpoint, 400)
            raise errors.RuntimeApiError("ValidationError", f"Endpoint {endpoint} is not a multi-model endpoint and "
                                         f"does not support target model header.", 400,
                                         ErrorCode="TARGET_MODEL_HEADER_NOT_SUPPORTED")
        try:
            check_target(target_model)
        except ConfigError as exc:
            self._refused(endpoint, 400)
            raise errors.validation_error(str(exc)) from None

    async def _serverless(self, gate, live, request: Request, endpoint: str, stream: bool, target, forward,
                          started: float) -> Response:
        """Admit the request (or throttle it), wait for a cold start if no instance runs, then forward it;
        the admission lasts until the answer (or its stream) is done."""
        try:
            gate.admit()
        except RuntimeApiError:
            self._refused(endpoint, 400)
            raise
        handed_over = False
        try:
            cold = await gate.ready()
            response = await self._forward(live, request, endpoint, stream, target, forward, started,
                                           request.headers.get(TARGET_MODEL_HEADER))
            if cold is not None:
                response.headers.append((serverless.COLD_START_HEADER, f"{cold * 1000:.0f}"))
            if response.on_done is not None:
                done = response.on_done

                def release() -> None:
                    try:
                        done()
                    finally:
                        gate.release()

                response.on_done, handed_over = release, True
            return response
        finally:
            if not handed_over:
                gate.release()

    async def _forward(self, live, request: Request, endpoint: str, stream: bool, target, forward,
                       started: float, target_model: str | None = None) -> Response:
        """Route the request to an instance and relay its answer (another instance when one is unreachable)."""
        variant, instance, upstream = await self._exchange(live, endpoint, target, forward, request.body, stream,
                                                           self.timeout, started, target_model)
        if stream and 200 <= upstream.status < 300:
            return self._stream_response(endpoint, variant.name, instance, upstream)
        if live.tap is not None and not stream:  # data capture and shadow copies (hosting/capture/tap.py)
            live.tap(request.headers, forward, request.body, variant.name, upstream)
        return self._response(endpoint, variant.name, upstream)

    async def send(self, endpoint: str, forward: list[tuple[str, str]], body: StreamedBody, timeout: float):
        """One request of asynchronous inference (:mod:`.async_inference`), routed, retried, counted and refused
        exactly as InvokeEndpoint's: ``(variant name, instance, upstream)`` with the answer's body still streaming
        and the instance still busy (the caller reads ``upstream.chunks()``, then calls ``instance.end()``).
        A non-2xx answer raises ModelError, as InvokeEndpoint does."""
        live = self.live(endpoint)
        variant, instance, upstream = await self._exchange(live, endpoint, None, forward, body, True, timeout,
                                                           time.perf_counter())
        if not 200 <= upstream.status < 300:
            self._response(endpoint, variant.name, upstream)  # raises ModelError
        return variant.name, instance, upstream

    async def _exchange(self, live, endpoint: str, target, forward, body, stream: bool, timeout: float,
                        started: float, target_model: str | None = None):
        """Send one request to an instance (another one when one is unreachable): ``(variant, instance, upstream)``.
        A streamed 2xx answer leaves the instance busy until its stream ends; any other answer is read whole."""
        tried: list = []
        for attempt in range(_RETRIES + 1):
            router = live.router
            if router is None:
                raise errors.service_unavailable(f"Endpoint {endpoint} is being deleted.")
            try:
                variant, instance = router.pick(target, tried)
            except NoTarget as exc:
                if exc.reason == "unknown-variant":
                    self._refused(endpoint, 400)
                    raise errors.validation_error(exc.message) from None
                self._refused(endpoint, 503)
                raise errors.service_unavailable(f"Endpoint {endpoint}: {exc.message} Instances that crashed are "
                                                 f"being restarted; retry shortly.") from None
            models = None
            path = "/invocations"
            if target_model is not None:
                models = _multi_model(variant, endpoint)
                instance = models.route(target_model, instance, tried)
            instance.begin()
            release = True
            sent = time.perf_counter()
            try:
                if models is not None:  # load the target first, if this instance has not
                    path = await models.prepare(instance, target_model)
                    sent = time.perf_counter()  # the wait is ModelLoadingWaitTime, not ModelLatency
                upstream = await instance.pool.request("POST", path, forward, body,
                                                       stream=stream, timeout=timeout)
                if stream and 200 <= upstream.status < 300:
                    release = False  # the stream releases the instance when it ends
                    instance.fleet.count(False)
                    _measure(instance, upstream.status, sent, started)
                    return variant, instance, upstream
                if stream:
                    upstream.body = b"".join([c async for c in upstream.chunks()])
            except UpstreamError as exc:
                release = False
                if not exc.sent:  # it never reached the instance: safe to try another one
                    instance.not_sent()
                    tried.append(instance)
                    continue
                instance.died_answering()
                instance.fleet.count(True)
                _measure(instance, 500, sent, started)
                raise errors.model_error(endpoint, variant.name, 500, _died_message(exc, instance),
                                         self.hosting.log_stream(endpoint)) from None
            except asyncio.TimeoutError:
                release = False
                instance.abandoned()
                instance.fleet.count(True)
                _measure(instance, 504, sent, started)
                raise errors.model_error(
                    endpoint, variant.name, 0,
                    f"Your invocation timed out while waiting for a response from container primary "
                    f"(after {timeout:g} s).", self.hosting.log_stream(endpoint)) from None
            except RuntimeApiError:  # the target could not be fetched or loaded: the instance is fine
                raise
            except BaseException:
                release = False
                instance.abandoned()
                raise
            finally:
                if release:
                    instance.end()
                if models is not None and instance.pid is not None:
                    models.done(instance, target_model)
            instance.fleet.count(upstream.status >= 500)
            _measure(instance, upstream.status, sent, started)
            if models is not None and upstream.status == 404:  # the instance lost the target: load it next time
                models.forget(instance, target_model)
            return variant, instance, upstream
        self._refused(endpoint, 503)
        raise errors.service_unavailable(f"Endpoint {endpoint}: no instance could be reached after "
                                         f"{len(tried)} attempts; they are being restarted, retry shortly.")

    def _refused(self, endpoint: str, status: int) -> None:
        """Count an invocation of a live endpoint refused before a variant took it (``variant=""``)."""
        if self.metrics is not None:
            self.metrics.variant(endpoint, "").refused(status)

    def _response(self, endpoint: str, variant: str, upstream) -> Response:
        if not 200 <= upstream.status < 300:
            original = upstream.body.decode("utf-8", "replace")
            raise errors.model_error(endpoint, variant, upstream.status, original, self.hosting.log_stream(endpoint))
        out = [("Content-Type", upstream.headers.get("content-type", "application/octet-stream")),
               ("x-Amzn-Invoked-Production-Variant", variant)]
        attrs = upstream.headers.get("x-amzn-sagemaker-custom-attributes")
        if attrs is not None:
            out.append(("X-Amzn-SageMaker-Custom-Attributes", attrs))
        return Response(200, out, upstream.body)

    def _stream_response(self, endpoint: str, variant: str, instance, upstream) -> Response:
        headers = [("Content-Type", eventstream.CONTENT_TYPE),
                   ("X-Amzn-SageMaker-Content-Type", upstream.headers.get("content-type", "application/octet-stream")),
                   ("x-Amzn-Invoked-Production-Variant", variant)]
        attrs = upstream.headers.get("x-amzn-sagemaker-custom-attributes")
        if attrs is not None:
            headers.append(("X-Amzn-SageMaker-Custom-Attributes", attrs))

        async def events() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.chunks():
                    yield eventstream.payload_part(chunk)
            except UpstreamError as exc:
                yield eventstream.model_stream_error(f"The model stream ended early: {exc}", "ModelStreamError")

        def release() -> None:  # the server calls this once, even if the client left before the stream began
            instance.end()

        return Response(200, headers, stream=events(), on_done=release)


def _multi_model(variant, endpoint: str):
    """The multi-model behaviour of the routed variant (a fleet, or a traffic shift's share of one)."""
    models = getattr(variant, "fleet", variant).multi_model
    if models is None:  # a traffic shift between a single-model and a multi-model config
        raise errors.validation_error(f"Variant {variant.name} of endpoint {endpoint} is not a multi-model variant and "
                                      f"does not support target model header.")
    return models


def _measure(instance, status: int, sent: float, started: float) -> None:
    """Count one invocation an instance answered (or died or timed out in) on its variant and instance."""
    series = instance.fleet.series
    if series is not None:
        now = time.perf_counter()
        series.record(status, now - sent, now - started)
        instance.series.invocations += 1


def _died_message(exc: UpstreamError, instance) -> str:
    """What a client whose request took a worker down is told (the traceback, if any, is in the log)."""
    when = "in the middle of the response" if exc.answered else "before any response"
    if instance.killed_because:
        return f"The request failed because {instance.killed_because}. Its log: {instance.log_path}"
    return (f"The model server's worker died while answering this request (the connection closed {when}); "
            f"the instance restarts the worker. Its log: {instance.log_path}")


def error_response(exc: RuntimeApiError) -> Response:
    """The REST-JSON error response for ``exc``."""
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", exc.code),
               ("x-amzn-RequestId", str(uuid.uuid4()))]
    return Response(exc.status, headers, json.dumps(exc.body()).encode())
