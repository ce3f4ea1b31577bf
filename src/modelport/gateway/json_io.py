"""JSON in and out of the gateway's routes: the one reader of JSON request bodies, and JSON answers.

``read_json_body()`` is what every JSON route does with its body (``POST /predict/{model}`` on the hot
path and in FastAPI, ``POST /chat``, ``POST /v1/chat/completions``): 415 for a Content-Type that is not
JSON (a missing one counts as JSON: plain ``curl --data``), 400 ``empty_body`` saying what to send,
400 ``invalid_json`` with the parser's reason. Framework-free, so the hot path uses it as is.
"""

from __future__ import annotations

from typing import Any, Callable

import orjson
from starlette.responses import Response

from modelport.gateway.errors import ApiError

JSON = "application/json"


def is_json(content_type: str | None) -> bool:
    """Whether a request's Content-Type is JSON; a missing one counts as JSON (plain `curl --data`)."""
    if content_type is None:
        return True
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == JSON or mime.endswith("+json")


def read_json_body(content_type: str | None, body: bytes, send_this: str,
                   elsewhere: Callable[[], str] | None = None) -> Any:
    """The parsed JSON of a request body; 415 / 400 otherwise (`send_this`: what the empty-body 400 asks for;
    `elsewhere`, asked only for a 415: where a body that is not JSON can go instead, or "")."""
    if not is_json(content_type):
        where = elsewhere() if elsewhere is not None else ""
        raise ApiError(415, "unsupported_media_type",
                       f"send JSON with Content-Type: {JSON} (got {content_type}){'; ' + where if where else ''}")
    if not body.strip():
        raise ApiError(400, "empty_body", f"the request has no body; send {send_this}")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer of a FastAPI route (serialised with orjson)."""
    return Response(orjson.dumps(data), status_code=status, media_type=JSON, headers=headers)
