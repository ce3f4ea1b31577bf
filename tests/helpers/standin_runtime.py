"""STAND-IN FOR HOSTING (test helper only): a small real HTTP server on 127.0.0.1 that speaks the
SageMaker Runtime InvokeEndpoint REST shape and a sliver of the control API, for the gateway's tests.

It exists because the gateway must be testable through the real HTTP stack and real boto3 without
modelport's hosting service. It is NOT hosting: no models, no processes. It answers:

- ``POST /endpoints/{name}/invocations`` with a behaviour chosen per endpoint name (JSON answer, echo,
  ``ModelError`` as 424 with ``x-amzn-ErrorType: ModelError`` and ``OriginalStatusCode`` /
  ``OriginalMessage``, slow answers, ``ModelNotReadyException``); unknown names get SageMaker's
  ``ValidationError`` "Endpoint ... not found".
- ``POST /endpoints/{name}/invocations-response-stream`` with the same behaviours; ``event_stream``
  answers AWS event-stream messages, each in its own chunk (as hosting and SageMaker stream).
- ``POST /`` with ``X-Amz-Target: SageMaker.DescribeEndpoint`` (AWS JSON 1.1) for live status.

Every invocation is recorded (endpoint, headers, exact body bytes) so tests can check what the gateway
forwarded.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Callable

from tests.helpers.standin_server import StandinHTTPServer

Reply = tuple[int, dict[str, str], "bytes | list[bytes]"]  # a list: each item its own chunk
Behaviour = Callable[[bytes, dict[str, str]], Reply]


def answer_json(payload) -> Behaviour:
    """Always answer this JSON with 200."""
    data = json.dumps(payload).encode()
    return lambda body, headers: (200, {"Content-Type": "application/json"}, data)


def echo() -> Behaviour:
    """Answer the request body back, with the request's Accept (or its Content-Type) as content type."""
    def reply(body: bytes, headers: dict[str, str]) -> Reply:
        accept = headers.get("accept")
        ctype = accept if accept and accept != "*/*" else headers.get("content-type", "application/octet-stream")
        return 200, {"Content-Type": ctype, "X-Amzn-Invoked-Production-Variant": "AllTraffic"}, body
    return reply


def model_error(status: int, message: str) -> Behaviour:
    """Answer like SageMaker when the model container returned `status` with `message`."""
    data = json.dumps({
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL" if status < 500 else "SERVER_ERROR_FROM_MODEL",
        "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/x",
        "Message": f'Received client error ({status}) from primary with message "{message}".',
        "OriginalMessage": message,
        "OriginalStatusCode": status,
    }).encode()
    return lambda body, headers: (
        424, {"Content-Type": "application/json", "x-amzn-ErrorType": "ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/"}, data,
    )


def chunked(payload) -> Behaviour:
    """Answer this JSON with chunked transfer encoding (no Content-Length)."""
    data = json.dumps(payload).encode()
    return lambda body, headers: (200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, data)


def service_error(status: int, code: str, message: str) -> Behaviour:
    """Answer a SageMaker Runtime error named `code` (``x-amzn-ErrorType``) with this status and message."""
    data = json.dumps({"message": message}).encode()
    return lambda body, headers: (status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, data)


def event_stream(*messages: bytes, pause: float = 0.0) -> Behaviour:
    """Answer a response stream: these event-stream messages (``modelport.hosting.eventstream``), one
    chunk each, `pause` seconds apart."""
    def reply(body: bytes, headers: dict[str, str]) -> Reply:
        return 200, {"Content-Type": "application/vnd.amazon.eventstream", "Transfer-Encoding": "chunked",
                     "X-Standin-Pause": str(pause)}, list(messages)
    return reply


def not_ready() -> Behaviour:
    """Answer SageMaker's ModelNotReadyException."""
    data = json.dumps({"message": "Model is not ready yet"}).encode()
    return lambda body, headers: (429, {"Content-Type": "application/json", "x-amzn-ErrorType": "ModelNotReadyException"}, data)


def slow(seconds: float, then: Behaviour) -> Behaviour:
    """Wait, then behave like `then`."""
    def reply(body: bytes, headers: dict[str, str]) -> Reply:
        time.sleep(seconds)
        return then(body, headers)
    return reply


def mnist_answer(label: int = 7) -> dict:
    """A bundled-MNIST-shaped answer."""
    probabilities = [0.001] * 10
    probabilities[label] = 0.991
    return {"predictions": [{"label": label, "probabilities": probabilities}]}


@dataclass
class Recorded:
    """One invocation as the stand-in received it."""

    endpoint: str
    headers: dict[str, str]
    body: bytes
    stream: bool = False  # InvokeEndpointWithResponseStream


@dataclass
class StandinRuntime:
    """The running stand-in: its URL, per-endpoint behaviours and the recorded invocations."""

    behaviours: dict[str, Behaviour]
    calls: list[Recorded] = field(default_factory=list)
    url: str = ""
    _server: StandinHTTPServer | None = None

    def start(self) -> "StandinRuntime":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, headers: dict[str, str], body: "bytes | list[bytes]") -> None:
                pause = float(headers.pop("X-Standin-Pause", 0))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                chunked = headers.get("Transfer-Encoding") == "chunked"
                if not chunked:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if isinstance(body, bytes):
                    # chunked: in pieces of 7 bytes, to exercise chunk parsing
                    body = [body[i:i + 7] for i in range(0, len(body), 7)] if chunked else [body]
                try:
                    for piece in body:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                        self.wfile.flush()
                        time.sleep(pause)
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the gateway gave up (timeout tests)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                parts = self.path.split("/")
                if len(parts) == 4 and parts[1] == "endpoints" and parts[3] in ("invocations", "invocations-response-stream"):
                    name = parts[2]
                    owner.calls.append(Recorded(name, headers, body, stream=parts[3] != "invocations"))
                    behaviour = owner.behaviours.get(name)
                    if behaviour is None:
                        data = json.dumps({"message": f"Endpoint {name} of account 123456789012 not found."}).encode()
                        self._send(400, {"Content-Type": "application/json", "x-amzn-ErrorType": "ValidationError"}, data)
                        return
                    self._send(*behaviour(body, headers))
                    return
                if self.path == "/" and headers.get("x-amz-target") == "SageMaker.DescribeEndpoint":
                    name = json.loads(body or b"{}").get("EndpointName")
                    if name in owner.behaviours:
                        data = {
                            "EndpointName": name,
                            "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}",
                            "EndpointConfigName": name,
                            "EndpointStatus": "InService",
                            "CreationTime": 0, "LastModifiedTime": 0,
                            "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentWeight": 1.0, "CurrentInstanceCount": 2}],
                        }
                        self._send(200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(data).encode())
                    else:
                        data = {"__type": "ValidationException", "message": f"Could not find endpoint \"{name}\"."}
                        self._send(400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(data).encode())
                    return
                self._send(404, {"Content-Type": "application/json"}, b'{"message": "not a SageMaker path"}')

        self._server = StandinHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
