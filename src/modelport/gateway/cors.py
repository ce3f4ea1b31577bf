"""CORS from the ``ALLOWED_ORIGINS`` allow-list (exact origins, or ``*``).

Every response gets ``Vary: Origin`` and, for an allowed origin, ``Access-Control-Allow-Origin``
(errors included, so a browser shows the real status instead of a "CORS error"). Preflight requests
are answered here without reaching the app.
"""

from __future__ import annotations

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "accept, authorization, content-type, x-api-key, x-request-id, x-amzn-sagemaker-custom-attributes"
EXPOSE_HEADERS = "x-request-id, retry-after, server-timing"
MAX_AGE = "600"


class Cors:
    """The CORS policy: which origins may call, and the headers that say so."""

    def __init__(self, allowed_origins: list[str]) -> None:
        self.any_origin = "*" in allowed_origins
        self.origins = frozenset(o.rstrip("/") for o in allowed_origins if o != "*")

    def allows(self, origin: str) -> bool:
        """Whether a request from `origin` may read the response."""
        return self.any_origin or origin in self.origins

    def response_headers(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        """Headers for an ordinary response to a request with this Origin (None: no Origin header)."""
        headers = [(b"vary", b"Origin")]
        if origin and self.allows(origin):
            allow = b"*" if self.any_origin else origin.encode("latin-1")
            headers.append((b"access-control-allow-origin", allow))
            headers.append((b"access-control-expose-headers", EXPOSE_HEADERS.encode()))
        return headers

    def preflight_grant(self) -> list[tuple[bytes, bytes]]:
        """Headers a successful preflight adds to the ordinary ones: methods, headers, max age."""
        return [
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
            (b"access-control-max-age", MAX_AGE.encode()),
        ]
