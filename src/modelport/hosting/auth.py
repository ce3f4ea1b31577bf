"""The gate in front of every hosting route: hosting's token, a loopback ``Host``, and no browser.

``HostingApp`` calls :meth:`Gate.check` once per request, in front of its dispatcher, so a route
family added later is covered without doing anything. The interface, for every route family:

    gate = Gate(token, allow_remote=False)
    refusal = gate.check(method, path, headers, query, client)  # None: let the request through
    status, headers, body = refusal.sagemaker()  # SageMaker's JSON shape (control and runtime APIs)
    status, headers, body = refusal.s3()         # S3's XML: InvalidAccessKeyId / AccessDenied / SlowDown
    status, headers, body = refusal.query_xml()  # STS / IAM (query protocol): InvalidClientTokenId / ...

``headers`` maps lower-case names to values, ``query`` is the raw query string and ``client`` the
peer's address (wrong tokens are rate-limited per address). The checks, in order:

1. a browser request (an ``Origin`` or ``Sec-Fetch-Site`` header) is refused: web pages never reach
   hosting, only programs do;
2. a ``Host`` other than 127.0.0.1, localhost (or a ``*.localhost`` name, for S3's virtual-host-style
   addressing) or [::1], with any port, is refused unless hosting runs with ``--allow-remote``: this
   defeats DNS rebinding;
3. ``GET /ping`` (and ``/health``) pass without a token: a liveness probe that says only "ok";
4. everything else needs the token, as the SigV4 access key id (``Authorization: AWS4-HMAC-SHA256
   Credential=<token>/...``; the signature is not checked), a presigned URL's ``X-Amz-Credential``
   (or SigV2's ``AWSAccessKeyId``), or ``Authorization: Bearer <token>``; compared in constant time.
   An address that sent more than a few wrong tokens a second is refused (throttled) without its
   token being compared, so the token cannot be guessed quickly.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

OPEN_PATHS = frozenset({"/ping", "/health"})
FAILURES_PER_SECOND = 5.0  # wrong tokens an address may send per second, on average ...
FAILURE_BURST = 10  # ... and at once
_MAX_TRACKED = 10_000  # addresses remembered at most (only with --allow-remote can there be many)

HOW_TO_AUTHENTICATE = (
    "Present hosting's token as the access key id (boto3: aws_access_key_id=TOKEN with any secret key), "
    "as 'Authorization: Bearer TOKEN', or as a presigned URL's X-Amz-Credential. `modelport hosting token` "
    "prints it; the modelport CLI, modelport.sdk and `modelport up` pass it themselves."
)

# kind → (status, code) for each error shape; kinds: token (missing or wrong), forbidden (Host, browser), throttled
_SAGEMAKER = {"token": (403, "UnrecognizedClientException"), "forbidden": (403, "AccessDeniedException"),
              "throttled": (429, "ThrottlingException")}
_S3 = {"token": (403, "InvalidAccessKeyId"), "forbidden": (403, "AccessDenied"), "throttled": (503, "SlowDown")}
_QUERY = {"token": (403, "InvalidClientTokenId"), "forbidden": (403, "AccessDenied"), "throttled": (400, "Throttling")}


class RemoteBindRefused(RuntimeError):
    """Hosting was asked to listen beyond loopback without ``--allow-remote`` and an explicit token."""


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused (``kind``: token, forbidden or throttled) and what to tell its client."""

    kind: str
    message: str

    def sagemaker(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """SageMaker's error shape: JSON ``__type`` + ``message`` and ``x-amzn-ErrorType`` (JSON 1.1 and REST-JSON)."""
        status, code = _SAGEMAKER[self.kind]
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                   ("x-amzn-RequestId", str(uuid.uuid4()))]
        if self.kind == "throttled":
            headers.append(("Retry-After", "1"))
        return status, headers, json.dumps({"__type": code, "message": self.message}).encode()

    def s3(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """S3's XML error document."""
        status, code = _S3[self.kind]
        request_id = uuid.uuid4().hex[:16].upper()
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{escape(self.message)}</Message><RequestId>{request_id}</RequestId></Error>")
        return status, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body.encode()

    def query_xml(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """The query protocol's XML error document (STS, IAM)."""
        status, code = _QUERY[self.kind]
        request_id = str(uuid.uuid4())
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{escape(self.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()


def is_loopback_host(value: str | None) -> bool:
    """Whether a ``Host`` header names this machine's loopback: 127.0.0.1, localhost, [::1], any port, or an S3
    virtual-hosted bucket on one of them (``bucket.localhost``, ``bucket.127.0.0.1``; no registrable domain
    can end in ``.127.0.0.1``, so DNS rebinding cannot produce it)."""
    if not value:
        return False
    host = value.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        name, port = host[1:end], host[end + 1:]
        if end < 0 or (port and not (port[0] == ":" and port[1:].isascii() and port[1:].isdigit())):
            return False
        return name == "::1"
    name, colon, port = host.partition(":")
    if colon and not (port.isascii() and port.isdigit()):
        return False
    return name in ("127.0.0.1", "localhost") or name.endswith((".localhost", ".127.0.0.1"))


def is_loopback_address(host: str) -> bool:
    """Whether a bind address listens on loopback only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool, token_is_explicit: bool) -> None:
    """Refuse (:class:`RemoteBindRefused`) to listen beyond loopback unless allowed and the token was set."""
    if is_loopback_address(host):
        return
    if not allow_remote or not token_is_explicit:
        missing = " and ".join(what for what, ok in (("--allow-remote", allow_remote),
                                                     ("MODELPORT_HOSTING_TOKEN", token_is_explicit)) if not ok)
        raise RemoteBindRefused(
            f"refusing to listen on {host}: that makes hosting's APIs, which run code, reachable from other "
            f"machines. Pass --allow-remote and set MODELPORT_HOSTING_TOKEN to a long random secret (missing: "
            f"{missing}), or keep the default 127.0.0.1 and expose only the gateway (`modelport up --host`)."
        )


def presented_token(headers: dict[str, str], query: str) -> str | None:
    """The token a request carries: Bearer, SigV4 (or SigV2) access key id, or a presigned URL's credential."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, rest = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return rest.strip()
        if scheme == "aws4-hmac-sha256":
            for part in rest.split(","):
                name, _, value = part.strip().partition("=")
                if name == "Credential":
                    return value.partition("/")[0]
            return None
        if scheme == "aws":  # SigV2: "AWS <key>:<signature>"
            return rest.partition(":")[0].strip()
        return None
    if query and ("Credential" in query or "AWSAccessKeyId" in query):
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name == "X-Amz-Credential":
                return value.partition("/")[0]
            if name == "AWSAccessKeyId":
                return value
    return None


class FailureLimiter:
    """A token bucket of wrong-token attempts per client address."""

    def __init__(self, rate: float = FAILURES_PER_SECOND, burst: int = FAILURE_BURST) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # address → (attempts left, when counted)

    def _left(self, address: str, now: float) -> float:
        left, counted = self._buckets.get(address, (self.burst, now))
        return min(self.burst, left + (now - counted) * self.rate)

    def exhausted(self, address: str) -> bool:
        """Whether ``address`` has no wrong attempt left right now."""
        return address in self._buckets and self._left(address, time.monotonic()) < 1.0

    def failed(self, address: str) -> None:
        """Count one wrong attempt from ``address``."""
        now = time.monotonic()
        if len(self._buckets) >= _MAX_TRACKED and address not in self._buckets:
            # forget the addresses whose budget has refilled, then the oldest
            self._buckets = {a: b for a, b in self._buckets.items() if self._left(a, now) < self.burst}
            while len(self._buckets) >= _MAX_TRACKED:
                del self._buckets[next(iter(self._buckets))]
        self._buckets[address] = (self._left(address, now) - 1.0, now)


class Gate:
    """Decides, per request, whether hosting answers it (see the module's docstring)."""

    def __init__(self, token: str, allow_remote: bool = False, limiter: FailureLimiter | None = None) -> None:
        self._token = token.encode()
        self.allow_remote = allow_remote
        self.limiter = limiter or FailureLimiter()

    def check(self, method: str, path: str, headers: dict[str, str], query: str = "",
              client: str | None = None) -> Refusal | None:
        """None when the request may pass, else the :class:`Refusal` to answer with."""
        if "origin" in headers or "sec-fetch-site" in headers:
            return Refusal("forbidden", "Requests from web browsers (with an Origin or Sec-Fetch-Site header) are "
                                        "refused: hosting's APIs are for programs on this machine. Web pages call "
                                        "the gateway, which calls hosting.")
        if not self.allow_remote and not is_loopback_host(headers.get("host")):
            shown = repr(headers.get("host", "")[:100]) if headers.get("host") else "(none)"
            return Refusal("forbidden", f"Host {shown} is not this machine's loopback: modelport hosting answers "
                                        f"only requests addressed to 127.0.0.1, localhost or [::1] (this defeats "
                                        f"DNS rebinding). Start it with --allow-remote to accept other names.")
        if method == "GET" and path in OPEN_PATHS:
            return None
        address = client or "unknown"
        if self.limiter.exhausted(address):
            return Refusal("throttled", f"Too many requests with a wrong token from {address}; retry in a second.")
        presented = presented_token(headers, query)
        if presented is None:
            return Refusal("token", "Missing hosting token: modelport hosting answers only requests that carry "
                                    f"its token. {HOW_TO_AUTHENTICATE}")
        if hmac.compare_digest(presented.encode("utf-8", "replace"), self._token):
            return None
        self.limiter.failed(address)
        return Refusal("token", "The security token included in the request is invalid: it is not this "
                                f"modelport hosting's token. {HOW_TO_AUTHENTICATE}")
