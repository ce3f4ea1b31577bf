"""The HTTP server's limits, read from ``MODELPORT_HTTP_*`` environment variables (the one home of each default).

Every server modelport runs (runtime workers, hosting, the local gateway) enforces these; a test or a
deployment shortens or widens them through the environment, e.g. ``MODELPORT_HTTP_HEADER_TIMEOUT=2``.
Body size limits are not here: each application states its own (SageMaker's 6 MB, the gateway's
``MODELPORT_MAX_BODY_MB``, ...), per request if it likes (see ``modelport.net.server``).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from modelport.settings import ModelportSettings


class HttpLimits(ModelportSettings):
    """Size, count and time limits of one HTTP/1.1 server. Each field names its environment variable."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_HTTP_", frozen=True)

    max_header_bytes: int = Field(
        default=32 * 1024, ge=1024,
        description="MODELPORT_HTTP_MAX_HEADER_BYTES: largest request head (request line + headers); 431 above.",
    )
    max_headers: int = Field(
        default=100, ge=8, description="MODELPORT_HTTP_MAX_HEADERS: most header lines in one request; 431 above.",
    )
    max_url_bytes: int = Field(
        default=8 * 1024, ge=256, description="MODELPORT_HTTP_MAX_URL_BYTES: longest request target; 414 above.",
    )
    header_timeout: float = Field(
        default=10.0, gt=0,
        description="MODELPORT_HTTP_HEADER_TIMEOUT: seconds for a whole request head to arrive (from the "
        "connection or the request's first byte); 408 after.",
    )
    body_timeout: float = Field(
        default=30.0, gt=0,
        description="MODELPORT_HTTP_BODY_TIMEOUT: seconds a request body may take, plus one second for each "
        "MODELPORT_HTTP_MIN_BODY_RATE bytes received (a slow but steady upload goes on); 408 after.",
    )
    min_body_rate: int = Field(
        default=1000, ge=1, description="MODELPORT_HTTP_MIN_BODY_RATE: bytes per extra second of body time.",
    )
    keepalive_timeout: float = Field(
        default=15.0, gt=0,
        description="MODELPORT_HTTP_KEEPALIVE_TIMEOUT: seconds an idle keep-alive connection stays open.",
    )
    write_timeout: float = Field(
        default=60.0, gt=0,
        description="MODELPORT_HTTP_WRITE_TIMEOUT: seconds a client may leave the answer unread (send buffer "
        "full) before the connection is dropped.",
    )
    max_connections: int = Field(
        default=4096, ge=1,
        description="MODELPORT_HTTP_MAX_CONNECTIONS: open connections per server process; beyond it the "
        "process stops accepting until one closes.",
    )
    max_pipelined: int = Field(
        default=16, ge=1,
        description="MODELPORT_HTTP_MAX_PIPELINED: requests queued on one connection; the server stops reading "
        "it until they are answered.",
    )
    accept_backoff: float = Field(
        default=0.1, gt=0,
        description="MODELPORT_HTTP_ACCEPT_BACKOFF: seconds the server stops accepting after accept() failed "
        "for want of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM).",
    )
    linger_timeout: float = Field(
        default=5.0, ge=0,
        description="MODELPORT_HTTP_LINGER_TIMEOUT: after an early error (413, 431, ...) the server keeps "
        "reading and discarding for at most this long, so the client reads the answer.",
    )
    linger_bytes: int = Field(
        default=64 * 1024 * 1024, ge=0,
        description="MODELPORT_HTTP_LINGER_BYTES: most bytes discarded that way before closing.",
    )
