"""The stdlib HTTP server the tests' stand-ins run on (a fake runtime, a webhook, a static site), quiet about
clients that hang up.

Tests close connections on purpose (a gateway timing out, a browser dropping a keep-alive socket); the
stdlib prints a traceback for each reset to stderr, which reads like a failure in the CI log. Any other
error is still printed.
"""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer


class StandinHTTPServer(ThreadingHTTPServer):
    """`ThreadingHTTPServer` (daemon threads) that ignores a peer's reset or hang-up mid-request."""

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)
