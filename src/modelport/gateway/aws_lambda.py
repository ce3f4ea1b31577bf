"""Running the gateway app in AWS Lambda behind API Gateway (Mangum), with event clean-up first.

Mangum translates API Gateway events (REST payload 1.0, HTTP API 1.0 and 2.0) to ASGI. Before that,
``normalise_event`` fixes what real events carry that Mangum does not expect:

- HTTP API (2.0) on a *named* stage called through its execute-api URL: ``rawPath`` and
  ``requestContext.http.path`` start with ``/<stage>``; the stage is removed so routes match. On a custom
  domain the path carries no stage and is left alone.
- ``headers``, ``queryStringParameters``, ``multiValueHeaders`` or ``body`` that are ``null`` or absent.
"""

from __future__ import annotations

from typing import Any, Callable

from modelport.net.asgi_types import ASGIApp


def _strip_stage(path: str, stage: str) -> str:
    prefix = f"/{stage}"
    if path == prefix:
        return "/"
    if path.startswith(prefix + "/"):
        return path[len(prefix):]
    return path


def normalise_event(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of an API Gateway event that Mangum routes correctly (see the module docstring)."""
    event = dict(event)
    for key in ("headers", "multiValueHeaders"):
        if key in event and event[key] is None:
            event[key] = {}
    if event.get("headers") is None:
        event["headers"] = {}
    if event.get("body") is None:
        event["body"] = ""
    context = dict(event.get("requestContext") or {})
    event["requestContext"] = context
    if event.get("version") == "2.0":
        if "rawQueryString" not in event or event["rawQueryString"] is None:
            event["rawQueryString"] = ""
        http = dict(context.get("http") or {})
        http.setdefault("method", (event.get("routeKey") or "GET ").split(" ", 1)[0])
        http.setdefault("sourceIp", None)
        path = http.get("path") or event.get("rawPath") or "/"
        stage = context.get("stage")
        domain = context.get("domainName") or ""
        on_execute_api = not domain or ".execute-api." in domain
        if stage and stage != "$default" and on_execute_api:
            path = _strip_stage(path, stage)
            if event.get("rawPath"):
                event["rawPath"] = _strip_stage(event["rawPath"], stage)
        http["path"] = path
        context["http"] = http
    elif "httpMethod" in event and "resource" not in event:
        event["resource"] = event.get("path") or "/"  # Mangum recognises REST events by `resource`
    return event


def make_handler(app: ASGIApp) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler `(event, context) -> response` serving `app` (no ASGI lifespan, like Lambda)."""
    from mangum import Mangum

    adapter = Mangum(app, lifespan="off")

    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Answer one API Gateway event."""
        return adapter(normalise_event(event), context)

    return lambda_handler
