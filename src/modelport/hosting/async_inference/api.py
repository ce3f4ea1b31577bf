"""``InvokeEndpointAsync``: ``POST /endpoints/{name}/async-invocations`` (REST-JSON, as boto3 sends it).

The request's headers are checked as SageMaker checks them (ranges from botocore's model), its input object must
exist and be within ``MODELPORT_HOSTING_ASYNC_MAX_INPUT_MB``, and it is stored in the queue (:mod:`.queue`) before
the 202 answer: ``{"InferenceId": …}`` with ``X-Amzn-SageMaker-OutputLocation`` and
``X-Amzn-SageMaker-FailureLocation`` headers (boto3's ``OutputLocation`` and ``FailureLocation``). Errors are
SageMaker's three: ``ValidationError`` (400), ``InternalFailure`` (500), ``ServiceUnavailable`` (503).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from modelport import store
from modelport.hosting import errors
from modelport.hosting.async_inference.config import AsyncSettings
from modelport.hosting.async_inference.queue import AsyncRequest, now
from modelport.hosting.database import RegistryError
from modelport.hosting.locations import LocationError
from modelport.hosting.runtime_api import error_response
from modelport.net.messages import Request, Response

MAX_INLINE_BODY = 128_000  # InvokeEndpointAsync's Body (botocore: AsyncBodyBlob)
TTL_RANGE, TTL_DEFAULT = (60, 21600), 21600  # RequestTTLSeconds
TIMEOUT_RANGE, TIMEOUT_DEFAULT = (1, 3600), 900  # InvocationTimeoutSeconds
_HEADER_MAX = 1024
_INFERENCE_ID_MAX = 64
_EXTENSION_MAX, _FILENAME_MAX = 512, 32
OUTPUT_SUFFIX, FAILURE_SUFFIX = ".out", "-error.out"
_FORWARDED = (
    ("x-amzn-sagemaker-content-type", "Content-Type"),
    ("x-amzn-sagemaker-accept", "Accept"),
    ("x-amzn-sagemaker-custom-attributes", "X-Amzn-SageMaker-Custom-Attributes"),
)


def _text(headers: dict[str, str], key: str, member: str, limit: int) -> str | None:
    value = headers.get(key)
    if value is None:
        return None
    if len(value) > limit or not value.isascii():
        raise errors.validation_error(f"1 validation error detected: Value at '{member}' failed to satisfy "
                                      f"constraint: Member must have length less than or equal to {limit} and "
                                      f"consist of ASCII characters")
    return value


def _seconds(headers: dict[str, str], key: str, member: str, bounds: tuple[int, int], default: int) -> int:
    value = headers.get(key)
    if value is None:
        return default
    if not value.isdigit() or not bounds[0] <= int(value) <= bounds[1]:
        raise errors.validation_error(f"1 validation error detected: Value '{value}' at '{member}' failed to "
                                      f"satisfy constraint: Member must be an integer between {bounds[0]} and "
                                      f"{bounds[1]}")
    return int(value)


def _inference_id(headers: dict[str, str]) -> str:
    value = headers.get("x-amzn-sagemaker-inference-id")
    if value is None:
        return str(uuid.uuid4())
    if not 1 <= len(value) <= _INFERENCE_ID_MAX or not value.isprintable() or value[0].isspace() or "/" in value:
        raise errors.validation_error(f"1 validation error detected: Value '{value}' at 'inferenceId' failed to "
                                      f"satisfy constraint: Member must have length between 1 and "
                                      f"{_INFERENCE_ID_MAX}, start with a visible character and contain printable "
                                      f"characters other than '/' (it names the output object)")
    return value


class AsyncApi:
    """Accepts InvokeEndpointAsync requests into the queue of ``inference`` (:class:`~.worker.AsyncInference`)."""

    def __init__(self, inference: Any) -> None:
        self.inference = inference
        self.runtime = inference.runtime
        self.settings = inference.hosting.settings

    async def invoke(self, request: Request, endpoint: str) -> Response:
        """Answer one InvokeEndpointAsync request."""
        try:
            return await self._invoke(request, endpoint)
        except errors.RuntimeApiError as exc:
            return self._error(exc)

    async def _invoke(self, request: Request, endpoint: str) -> Response:
        live = self.runtime.live(endpoint)
        config = next((f.async_config for f in live.fleets if f.async_config), None)
        if config is None:
            raise errors.validation_error(f"Endpoint {endpoint} is not an asynchronous inference endpoint (its "
                                          f"endpoint config has no AsyncInferenceConfig); use InvokeEndpoint.")
        settings = AsyncSettings.of(config)
        headers = request.headers
        location = _text(headers, "x-amzn-sagemaker-inputlocation", "inputLocation", _HEADER_MAX)
        for key, _ in _FORWARDED:
            _text(headers, key, key[len("x-amzn-sagemaker-"):], _HEADER_MAX)
        inference_id = _inference_id(headers)
        ttl = _seconds(headers, "x-amzn-sagemaker-requestttlseconds", "requestTTLSeconds", TTL_RANGE, TTL_DEFAULT)
        timeout = _seconds(headers, "x-amzn-sagemaker-invocationtimeoutseconds", "invocationTimeoutSeconds",
                           TIMEOUT_RANGE, TIMEOUT_DEFAULT)
        extension = _text(headers, "x-amzn-sagemaker-s3outputpathextension", "s3OutputPathExtension", _EXTENSION_MAX)
        filename = _text(headers, "x-amzn-sagemaker-filename", "filename", _FILENAME_MAX)
        if (location is None) == (not request.body):
            raise errors.validation_error("Provide exactly one of InputLocation (the s3:// URI of the payload in "
                                          "hosting's S3, or a file:// path under the allowed folders) and Body "
                                          f"(an inline payload of at most {MAX_INLINE_BODY} bytes).")
        if len(request.body) > MAX_INLINE_BODY:
            raise errors.validation_error(f"The inline Body has {len(request.body)} bytes; at most {MAX_INLINE_BODY} "
                                          f"are accepted. Upload larger payloads and pass their InputLocation.")
        if location is not None:
            await asyncio.to_thread(self._check_input, location)
        if self.inference.queue.count(endpoint) >= self.settings.async_max_backlog:
            raise errors.service_unavailable(
                f"Endpoint {endpoint} has {self.settings.async_max_backlog} requests queued, the most hosting keeps "
                f"(MODELPORT_HOSTING_ASYNC_MAX_BACKLOG); retry later or add instances.")
        folder = settings.output_path + (f"/{extension.strip('/')}" if extension else "")
        output = f"{folder}/{filename or inference_id + OUTPUT_SUFFIX}"
        failure = f"{settings.failure_path or folder}/{inference_id}{FAILURE_SUFFIX}"
        forward = [(name, headers[key]) for key, name in _FORWARDED if key in headers]
        forward.append(("X-Amzn-SageMaker-Inference-Id", inference_id))
        received = now()
        try:
            self.inference.queue.add(AsyncRequest(
                str(uuid.uuid4()), endpoint, inference_id, location, request.body or None, output, failure, forward,
                received, received + ttl, float(timeout)))
        except RegistryError as exc:  # disk full, I/O error: nothing was accepted
            raise errors.RuntimeApiError("InternalFailure", exc.message, 500) from None
        self.inference.wake()
        answer = [("Content-Type", "application/json"), ("X-Amzn-SageMaker-OutputLocation", output),
                  ("x-amzn-RequestId", str(uuid.uuid4()))]
        if settings.failure_path:
            answer.append(("X-Amzn-SageMaker-FailureLocation", failure))
        return Response(202, answer, json.dumps({"InferenceId": inference_id}).encode())

    def _check_input(self, location: str) -> None:
        """The input object exists, hosting may read it, and it is within the size limit."""
        places = self.inference.places()
        limit = self.settings.async_max_input_mb * 1024 * 1024
        try:
            if location.startswith("https://"):
                raise LocationError(f"InputLocation {location}: modelport hosting reads payloads from its own S3 "
                                    f"(s3://bucket/key) or from file:// paths under the allowed folders, not over "
                                    f"https.")
            size = places.size(location, "InputLocation")
        except (LocationError, store.StoreError) as exc:
            raise errors.validation_error(str(exc)) from None
        if size > limit:
            raise errors.validation_error(f"The input object {location} has {size} bytes; asynchronous inference "
                                          f"takes payloads up to {limit} bytes (MODELPORT_HOSTING_ASYNC_MAX_INPUT_MB).")

    @staticmethod
    def _error(exc: errors.RuntimeApiError) -> Response:
        return error_response(exc)
