"""Per-request facts in the ASGI scope's ``state`` dict, shared by the layers one request goes through.

``Edge`` creates it (``request_id``, ``started``) and writes the access log from it; the routes add what
they learn (``model``, ``endpoint``, ``model_latency_ms``, ``route`` on the hot path) and the exception
handlers the ``error_code``. Not Starlette's ``request.state`` object: ``ModelCalls`` takes the plain dict.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request


def request_state(request: Request) -> dict[str, Any]:
    """This request's facts (the scope's ``state`` dict, created when missing)."""
    return request.scope.setdefault("state", {})
