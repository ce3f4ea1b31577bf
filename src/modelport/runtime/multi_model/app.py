"""The routes of a multi-model server: SageMaker's MME container contract (the model server's management API).

- ``GET /ping``: 200 while the server runs (with or without models, as SageMaker's MME containers);
- ``POST /models`` with ``{"model_name", "url"}`` (JSON body, or query parameters as MMS also accepts):
  load; 200 ``{"status": "Workers scaled"}``, 409 already loaded, 404 no such url, 500 the model failed to load;
- ``GET /models?limit=&next_page_token=``: ``{"models": [{"modelName", "modelUrl"}], "nextPageToken"?}``;
- ``GET /models/{name}``: one model (modelport adds ``pid`` and ``memoryBytes``); 404 when not loaded;
- ``DELETE /models/{name}``: unload; 200 ``{"status": "Model \\"X\\" unregistered"}``; 404;
- ``POST /models/{name}/invoke``: the model's ``/invocations`` (``Content-Type``, ``Accept`` and
  ``X-Amzn-SageMaker-Custom-Attributes`` passed on); 404 ``ModelNotFoundException`` when not loaded;
- ``POST /invocations`` with ``X-Amzn-SageMaker-Target-Model: NAME``: the same as invoking ``NAME``.

Model names are opaque and travel URL-encoded in paths. The answer of a model is relayed as it is.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, unquote

import orjson

from modelport.net.messages import BodyResponse as Response
from modelport.net.messages import Request
from modelport.net.upstream import UpstreamError
from modelport.runtime.app import error_response
from modelport.runtime.environment import RuntimeEnvironment
from modelport.runtime.multi_model.models import LoadError, ModelTable

MAX_NAME = 1024
MAX_LIST_LIMIT = 100  # as MMS
_JSON = "application/json"
_FORWARDED = ("content-type", "accept", "x-amzn-sagemaker-custom-attributes")
_TARGET_HEADER = "x-amzn-sagemaker-target-model"


def _json(status: int, document: object) -> Response:
    return Response(status, orjson.dumps(document), _JSON)


def _mms_error(status: int, kind: str, message: str) -> Response:
    """MMS's error body: ``{"code", "type", "message"}``."""
    return _json(status, {"code": status, "type": kind, "message": message})


class MultiModelApp:
    """Serves the management API over a :class:`ModelTable`."""

    def __init__(self, table: ModelTable, env: RuntimeEnvironment) -> None:
        self.table = table
        self.env = env
        self.max_body_bytes = env.max_payload_bytes
        self.invoke_timeout = env.timeout_seconds

    def error(self, status: int, code: str, message: str) -> Response:
        """An error response for what the HTTP layer refuses itself."""
        return error_response(status, code, message)

    async def handle(self, request: Request) -> Response:
        """Route one request."""
        method, path = request.method, request.path
        if path == "/ping":
            return _json(200, {"status": "Healthy", "models": len(self.table.models)})
        if path == "/invocations" and method == "POST":
            target = request.headers.get(_TARGET_HEADER)
            if not target:
                return _mms_error(400, "BadRequestException", "POST /invocations of a multi-model server needs the "
                                  "X-Amzn-SageMaker-Target-Model header naming a loaded model (or POST /models/NAME/invoke).")
            return await self.invoke(target, request)
        if path == "/models":
            if method == "POST":
                return await self.load(request)
            if method == "GET":
                return self.list(request)
            return _mms_error(405, "MethodNotAllowedException", "/models accepts GET (list) and POST (load).")
        if path.startswith("/models/"):
            rest = path[len("/models/"):]
            if rest.endswith("/invoke"):
                if method != "POST":
                    return _mms_error(405, "MethodNotAllowedException", f"{path} accepts POST.")
                return await self.invoke(unquote(rest[:-len("/invoke")]), request)
            name = unquote(rest)
            if method == "GET":
                return self.describe(name)
            if method == "DELETE":
                return await self.unload(name)
            return _mms_error(405, "MethodNotAllowedException", f"{path} accepts GET (describe) and DELETE (unload).")
        return _mms_error(404, "ResourceNotFoundException",
                          f"No route {method} {path}; a multi-model server answers GET /ping, POST/GET /models, "
                          f"GET/DELETE /models/NAME and POST /models/NAME/invoke.")

    async def load(self, request: Request) -> Response:
        """``POST /models``: load ``model_name`` from ``url``."""
        options = _load_options(request)
        if isinstance(options, Response):
            return options
        name, url = options
        try:
            await self.table.load(name, url)
        except LoadError as exc:
            return _mms_error(exc.status, exc.kind, exc.message)
        return _json(200, {"status": "Workers scaled"})

    def list(self, request: Request) -> Response:
        """``GET /models``: the loaded models, a page at a time."""
        query = parse_qs(request.query)
        try:
            limit = int(query.get("limit", ["100"])[0])
            start = int(query.get("next_page_token", ["0"])[0])
        except ValueError:
            return _mms_error(400, "BadRequestException", "limit and next_page_token must be whole numbers.")
        if not 1 <= limit <= MAX_LIST_LIMIT or start < 0:
            return _mms_error(400, "BadRequestException", f"limit must be 1 to {MAX_LIST_LIMIT}, next_page_token >= 0.")
        models = list(self.table.models.values())
        page = [{"modelName": m.name, "modelUrl": m.url} for m in models[start:start + limit]]
        out: dict = {"models": page}
        if start + limit < len(models):
            out["nextPageToken"] = str(start + limit)
        return _json(200, out)

    def describe(self, name: str) -> Response:
        """``GET /models/{name}``."""
        try:
            return _json(200, self.table.get(name).describe())
        except LoadError as exc:
            return _mms_error(exc.status, exc.kind, exc.message)

    async def unload(self, name: str) -> Response:
        """``DELETE /models/{name}``."""
        try:
            await self.table.unload(name)
        except LoadError as exc:
            return _mms_error(exc.status, exc.kind, exc.message)
        return _json(200, {"status": f'Model "{name}" unregistered'})

    async def invoke(self, name: str, request: Request) -> Response:
        """``POST /models/{name}/invoke``: the model's own answer, relayed."""
        try:
            model = self.table.get(name)
        except LoadError as exc:
            return _mms_error(exc.status, exc.kind, exc.message)
        headers = request.headers
        forward = [(key, headers[key]) for key in _FORWARDED if key in headers]
        try:
            upstream = await model.pool.request("POST", "/invocations", forward, request.body,
                                                timeout=self.invoke_timeout + 1.0)
        except (UpstreamError, asyncio.TimeoutError) as exc:
            if await self.table.exited(model):
                return _mms_error(404, "ModelNotFoundException", f"Model not found: {name} (its server exited; load "
                                  f"it again)")
            return _mms_error(500, "InternalServerException",
                              f"Model {name}'s server did not answer ({exc or 'timed out'}); see this server's log.")
        out = [(k, v) for k, v in upstream.headers.items() if k == "x-amzn-sagemaker-custom-attributes"]
        return Response(upstream.status, upstream.body,
                        upstream.headers.get("content-type", "application/octet-stream"), headers=out)


def _load_options(request: Request) -> tuple[str, str] | Response:
    """``(model_name, url)`` from a JSON body (``Content-Type: application/json``) or the query, as MMS reads them."""
    if (request.headers.get("content-type") or "").startswith(_JSON):
        try:
            options = orjson.loads(request.body or b"{}")
        except orjson.JSONDecodeError as exc:
            return _mms_error(400, "BadRequestException", f"The load request is not valid JSON: {exc}.")
        if not isinstance(options, dict):
            return _mms_error(400, "BadRequestException", 'The load request must be a JSON object {"model_name", "url"}.')
    else:
        options = {k: v[0] for k, v in parse_qs(request.query).items()}
    name, url = options.get("model_name"), options.get("url")
    if not isinstance(url, str) or not url:
        return _mms_error(400, "BadRequestException", 'Parameter url is required: {"model_name": NAME, "url": PATH}.')
    if name is None:
        name = url.rstrip("/").rsplit("/", 1)[-1]
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        return _mms_error(400, "BadRequestException", f"model_name must be 1 to {MAX_NAME} printable characters.")
    return name, url
