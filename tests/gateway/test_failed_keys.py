"""Wrong API keys are rate-limited per client address; clients that know their key are not slowed.

A live gateway over the stand-in Runtime API. The guesser and the valid client use different
loopback source addresses (127.0.0.2 and 127.0.0.1), as two machines would.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.helpers.live_gateway import LiveGateway
from tests.helpers.standin_runtime import answer_json, mnist_answer
from modelport.gateway.app import create_app
from modelport.gateway.ratelimit import FAILED_KEY_LIMIT, TokenBuckets
from modelport.gateway.settings import GatewaySettings

PIXELS = {"pixels": [0.0] * 784}
ALLOWED_FAILURES = FAILED_KEY_LIMIT.burst


@pytest.fixture(scope="module")
def standin_behaviours():
    return {"mnist-sk": answer_json(mnist_answer(7))}


@pytest.fixture
def gateway_url(standin):
    """The URL of a fresh live gateway (its failed-key counts start at zero) that wants an API key."""
    settings = GatewaySettings(
        runtime_endpoint_url=standin.url, mode="local", region="us-east-1", mnist_sklearn_endpoint="mnist-sk",
        api_keys="the-right-key", rate_limit="", routes="", access_log=False,
    )
    with LiveGateway(create_app(settings)) as url:
        yield url


def client_from(url: str, address: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=10, transport=httpx.HTTPTransport(local_address=address))


def predict(client: httpx.Client, key: str | None) -> httpx.Response:
    return client.post("/predict/mnist-sklearn", json=PIXELS, headers={"x-api-key": key} if key else {})


def test_wrong_keys_are_cut_off_with_retry_after_while_valid_clients_go_on(gateway_url):
    with client_from(gateway_url, "127.0.0.2") as guesser, client_from(gateway_url, "127.0.0.1") as valid:
        for attempt in range(ALLOWED_FAILURES):
            assert predict(guesser, f"guess-{attempt}").status_code == 403
            assert predict(valid, "the-right-key").status_code == 200
        cut_off = predict(guesser, "guess-next")
        assert cut_off.status_code == 429, cut_off.text
        assert cut_off.json()["error"]["code"] == "too_many_failed_keys"
        assert 1 <= int(cut_off.headers["retry-after"]) <= round(1 / FAILED_KEY_LIMIT.rate)
        # while cut off, even the right key is refused from that address: a 200 would tell a guesser it won
        assert predict(guesser, "the-right-key").status_code == 429
        started = time.perf_counter()
        answers = [predict(valid, "the-right-key").status_code for _ in range(50)]
        assert answers == [200] * 50 and time.perf_counter() - started < 10  # never throttled, never slowed


def test_proxy_headers_do_not_choose_the_address_that_is_limited(gateway_url):
    """The limit follows the socket's peer: a guesser on 127.0.0.1 (whose X-Forwarded-For uvicorn believed by
    default) that names another address on each attempt is still cut off, and another client is not."""
    with client_from(gateway_url, "127.0.0.1") as guesser, client_from(gateway_url, "127.0.0.4") as valid:
        for attempt in range(ALLOWED_FAILURES):
            spoof = {"x-api-key": f"guess-{attempt}", "x-forwarded-for": f"198.51.100.{attempt}",
                     "forwarded": f"for=198.51.100.{attempt}", "x-real-ip": "127.0.0.1"}
            assert guesser.post("/predict/mnist-sklearn", json=PIXELS, headers=spoof).status_code == 403
        assert predict(guesser, "guess-next").status_code == 429
        assert predict(valid, "the-right-key").status_code == 200


def test_valid_keys_and_missing_keys_never_use_up_the_failure_budget(gateway_url):
    with client_from(gateway_url, "127.0.0.3") as client:
        for _ in range(3 * ALLOWED_FAILURES):
            assert predict(client, "the-right-key").status_code == 200
            assert predict(client, None).status_code == 401  # no key: nothing guessed
        assert [predict(client, "wrong").status_code for _ in range(ALLOWED_FAILURES)] == [403] * ALLOWED_FAILURES
        assert predict(client, "wrong").status_code == 429  # the whole budget was still there


def test_a_cut_off_address_gets_one_attempt_back_per_refill():
    now = [0.0]
    buckets = TokenBuckets(FAILED_KEY_LIMIT, clock=lambda: now[0])
    assert buckets.wait("10.0.0.9") == 0.0 and len(buckets._buckets) == 0  # peeking makes no bucket
    for _ in range(ALLOWED_FAILURES):
        assert buckets.take("10.0.0.9") == 0.0
    assert buckets.wait("10.0.0.9") == pytest.approx(1 / FAILED_KEY_LIMIT.rate)
    now[0] += 1 / FAILED_KEY_LIMIT.rate
    assert buckets.wait("10.0.0.9") == 0.0 and buckets.wait("10.0.0.9") == 0.0  # waiting takes nothing
    assert buckets.take("10.0.0.9") == 0.0
    assert buckets.wait("10.0.0.9") > 0
