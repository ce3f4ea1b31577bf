"""Amazon Bedrock through boto3 ``bedrock-runtime``: Converse (buffered) and ConverseStream (streamed).

Model from ``BEDROCK_MODEL_ID``, region from ``BEDROCK_REGION`` or ``AWS_REGION``. Bedrock's errors become
the gateway's: ValidationException → 400; ThrottlingException / ModelNotReadyException /
ServiceQuotaExceededException → 429 with Retry-After; AccessDeniedException / ResourceNotFoundException →
502 with a hint about the configuration; timeouts → 504; anything else → 502.
"""

from __future__ import annotations

import threading
from contextlib import aclosing
from typing import Any, AsyncIterator, Callable

import anyio

from modelport.gateway.chat.request import ChatRequest
from modelport.gateway.chat.stream import thread_stream
from modelport.gateway.errors import ApiError
from modelport.gateway.chat.providers.base import ChatProvider, usage
from modelport.gateway.settings import GatewaySettings

DEFAULT_REGION = "us-east-1"
STOP_REASONS = {"end_turn": "end_turn", "stop_sequence": "end_turn", "max_tokens": "max_tokens"}


def converse_params(request: ChatRequest, model_id: str) -> dict[str, Any]:
    """The Converse / ConverseStream parameters for `request`."""
    inference: dict[str, Any] = {"maxTokens": request.max_tokens}
    if request.temperature is not None:
        inference["temperature"] = min(request.temperature, 1.0)  # Bedrock models take 0..1
    if request.top_p is not None:
        inference["topP"] = request.top_p
    params: dict[str, Any] = {
        "modelId": model_id,
        "messages": [{"role": m["role"], "content": [{"text": m["content"]}]} for m in request.messages],
        "inferenceConfig": inference,
    }
    if request.system:
        params["system"] = [{"text": request.system}]
    return params


def bedrock_error(exc: BaseException, model_id: str, region: str, timeout: float) -> ApiError:
    """Map a boto3/botocore failure of Converse(Stream) to the gateway's error."""
    from botocore import exceptions as bex

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, (bex.ReadTimeoutError, TimeoutError)):
        return ApiError(504, "backend_timeout", f"Bedrock did not answer within {timeout:g} s", retryable=True)
    if isinstance(exc, (bex.ConnectTimeoutError, bex.EndpointConnectionError, bex.ConnectionClosedError)):
        return ApiError(503, "backend_unavailable", f"Bedrock is not reachable in {region}", retryable=True,
                        headers={"Retry-After": "2"})
    if isinstance(exc, bex.NoCredentialsError):
        return ApiError(502, "backend_misconfigured", "the gateway has no AWS credentials to call Bedrock "
                        "(give the Lambda role bedrock:InvokeModel, or set AWS credentials locally)")
    if not isinstance(exc, bex.ClientError):
        return ApiError(502, "backend_error", f"calling Bedrock failed ({type(exc).__name__})", retryable=True)
    error = exc.response.get("Error") or {}
    code, message = error.get("Code") or "Unknown", error.get("Message") or str(exc)
    code = code[0].upper() + code[1:]  # stream events name errors in camelCase (throttlingException)
    if code == "ValidationException":
        return ApiError(400, "backend_rejected", f"Bedrock refused the request: {message}")
    if code in ("ThrottlingException", "ModelNotReadyException", "ServiceQuotaExceededException", "TooManyRequestsException"):
        retry = "5" if code == "ModelNotReadyException" else "2"
        return ApiError(429, "backend_throttled", f"Bedrock is busy ({code}): {message}", retryable=True,
                        headers={"Retry-After": retry})
    if code in ("AccessDeniedException", "ResourceNotFoundException", "UnrecognizedClientException"):
        return ApiError(
            502, "backend_misconfigured",
            f"Bedrock refused model {model_id} in {region} ({code}: {message}). Check BEDROCK_MODEL_ID "
            "(a model or inference-profile id offered in that region), BEDROCK_REGION, that model access is "
            "granted in the Bedrock console, and that the gateway's role may call bedrock:InvokeModel",
        )
    if code in ("ModelTimeoutException",):
        return ApiError(504, "backend_timeout", f"the Bedrock model timed out: {message}", retryable=True)
    return ApiError(502, "backend_error", f"Bedrock failed ({code}): {message}", retryable=True)


class BedrockProvider(ChatProvider):
    """Chat with a Bedrock model through Converse / ConverseStream."""

    name = "bedrock"

    def __init__(self, settings: GatewaySettings, client_factory: Callable[[], Any] | None = None) -> None:
        self.model = settings.bedrock_model_id
        self.region = settings.bedrock_region or settings.region or DEFAULT_REGION
        self.timeout = settings.backend_timeout
        self.stream_timeout = settings.chat_timeout
        self._factory = client_factory or self._build_client
        self._client = None
        self._lock = threading.Lock()

    def _build_client(self):
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=5, read_timeout=self.timeout,
                        retries={"mode": "standard", "total_max_attempts": 2})
        return boto3.session.Session(region_name=self.region).client("bedrock-runtime", config=config)

    def client(self):
        """The bedrock-runtime client (built once)."""
        with self._lock:
            if self._client is None:
                self._client = self._factory()
        return self._client

    def _error(self, exc: BaseException) -> ApiError:
        return bedrock_error(exc, self.model, self.region, self.timeout)

    async def complete(self, request: ChatRequest) -> dict[str, Any]:
        """One Converse call."""
        params = converse_params(request, self.model)

        def call() -> dict[str, Any]:
            return self.client().converse(**params)

        try:
            with anyio.fail_after(self.timeout + 1):
                answer = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a JSON error
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            raise self._error(exc) from None
        content = ((answer.get("output") or {}).get("message") or {}).get("content") or []
        reply = "".join(block.get("text", "") for block in content if isinstance(block, dict))
        tokens = answer.get("usage") or {}
        return {"reply": reply, "stopReason": STOP_REASONS.get(answer.get("stopReason"), answer.get("stopReason")),
                "usage": usage(tokens.get("inputTokens"), tokens.get("outputTokens")), "model": self.model,
                "modelLatencyMs": (answer.get("metrics") or {}).get("latencyMs")}

    async def stream(self, request: ChatRequest) -> AsyncIterator[dict[str, Any]]:
        """ConverseStream: text deltas, then the summary from messageStop and metadata."""
        params = converse_params(request, self.model)

        def open_stream():
            events = self.client().converse_stream(**params)["stream"]
            return events, getattr(events, "close", lambda: None)

        stop_reason, tokens = None, {}
        try:
            async with aclosing(thread_stream(open_stream, self.stream_timeout)) as events:
                async for event in events:
                    if "contentBlockDelta" in event:
                        text = ((event["contentBlockDelta"].get("delta") or {}).get("text"))
                        if text:
                            yield {"delta": text}
                    elif "messageStop" in event:
                        stop_reason = event["messageStop"].get("stopReason")
                    elif "metadata" in event:
                        tokens = event["metadata"].get("usage") or {}
                    else:
                        failure = next((k for k in event if k.endswith("Exception")), None)
                        if failure:
                            from botocore.exceptions import ClientError

                            detail = event[failure] or {}
                            raise ClientError({"Error": {"Code": failure, "Message": detail.get("message", "")}}, "ConverseStream")
        except (ApiError, GeneratorExit):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a JSON error
            raise self._error(exc) from None
        yield {"done": True, "stopReason": STOP_REASONS.get(stop_reason, stop_reason),
               "usage": usage(tokens.get("inputTokens"), tokens.get("outputTokens")), "model": self.model}
