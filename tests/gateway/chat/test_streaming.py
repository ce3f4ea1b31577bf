"""The gateway's side of streaming chat, against a stand-in SageMaker Runtime API on 127.0.0.1 that
streams real AWS event-stream PayloadPart events (as hosting and SageMaker do) and records when its
client goes away: a chat client that leaves makes the gateway close its upstream stream at once.
Both Runtime API transports (boto3, pooled HTTP) are checked."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from tests.helpers.live_gateway import LiveGateway
from tests.helpers.standin_server import StandinHTTPServer
from modelport.gateway.app import create_app
from modelport.gateway.settings import GatewaySettings
from modelport.hosting.eventstream import CONTENT_TYPE, payload_part

TOTAL = 2000


class StreamingRuntime:
    """InvokeEndpointWithResponseStream for endpoint `chat`: `total` {"delta"} lines, one every 10 ms."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0
        self.left = threading.Event()
        self.finished = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path != "/endpoints/chat/invocations-response-stream":
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", CONTENT_TYPE)
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                try:
                    for _ in range(owner.total):
                        event = payload_part(json.dumps({"delta": "x"}).encode() + b"\n")
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                        self.wfile.flush()
                        owner.sent += 1
                        time.sleep(0.01)
                    done = payload_part(b'{"done": true, "stopReason": "max_tokens", "usage": {"inputTokens": 3, "outputTokens": %d}, "model": "stand-in"}\n' % owner.total)
                    self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
                    owner.finished.set()
                except OSError:
                    owner.left.set()

        self.server = StandinHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def runtime(request):
    server = StreamingRuntime(request.param)
    yield server
    server.stop()


@pytest.mark.parametrize("runtime", [TOTAL], indirect=True)
@pytest.mark.parametrize("client", ["boto3", "http"])
def test_a_client_that_leaves_closes_the_upstream_stream(runtime, client):
    settings = GatewaySettings(runtime_endpoint_url=runtime.url, mode="local", region="us-east-1",
                               chat_provider="sagemaker", chat_max_tokens=TOTAL, page_dir=None, runtime_client=client)
    with LiveGateway(create_app(settings)) as url:
        with httpx.Client(timeout=30) as client:
            with client.stream("POST", f"{url}/chat", json={"messages": [{"role": "user", "content": "hi"}], "stream": True}) as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line.startswith("data:") and "delta" in line:
                        break
        assert runtime.left.wait(20), "the gateway kept reading the model's stream after its client left"
    assert not runtime.finished.is_set() and runtime.sent < TOTAL // 2


@pytest.mark.parametrize("runtime", [40], indirect=True)
@pytest.mark.parametrize("client", ["boto3", "http"])
def test_a_full_stream_through_the_stand_in(runtime, client):
    settings = GatewaySettings(runtime_endpoint_url=runtime.url, mode="local", region="us-east-1",
                               chat_provider="sagemaker", chat_max_tokens=TOTAL, page_dir=None, runtime_client=client)
    with LiveGateway(create_app(settings)) as url:
        with httpx.stream("POST", f"{url}/chat", json={"messages": [{"role": "user", "content": "hi"}], "stream": True},
                          timeout=60) as response:
            events = [json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:")]
    # the stand-in marks itself finished just after writing the last chunk, which the client may read first
    assert len(events) == 41 and events[-1]["reply"] == "x" * 40 and runtime.finished.wait(5)
    assert events[-1]["usage"] == {"inputTokens": 3, "outputTokens": 40} and events[-1]["model"] == "stand-in"
