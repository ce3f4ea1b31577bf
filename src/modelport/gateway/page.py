"""Serving the built web page (``page/dist``) at ``/`` for GET requests that match no API route.

Only requests that no API route claims reach here (``page_or_not_found`` is the FastAPI router's
default), so API paths keep their own 404/405 answers.
"""

from __future__ import annotations

from pathlib import Path

from modelport.gateway.errors import ApiError
from modelport.net.asgi_types import ASGIApp, Receive, Scope, Send


def find_page_dir(configured: Path | None) -> Path | None:
    """The page directory: MODELPORT_PAGE_DIR when set, else the installed page (a wheel's copy, or a
    checkout's page/dist), when built; None when there is no page."""
    from modelport.resources import page_dir

    candidate = configured if configured is not None else page_dir()
    return candidate if (candidate / "index.html").is_file() else None


def make_page_app(page_dir: Path | None) -> ASGIApp:
    """An ASGI app serving the page files (index.html for `/`), or a JSON 404 when there is no page."""
    if page_dir is None:
        async def no_page(scope: Scope, receive: Receive, send: Send) -> None:
            raise ApiError(
                404, "not_found",
                f"no route {scope['method']} {scope['path']}; the web page is not built (npm run build in page/); "
                "the API is described at /docs",
            )

        return no_page

    from starlette.staticfiles import StaticFiles

    return StaticFiles(directory=page_dir, html=True)


def page_or_not_found(page_dir: Path | None) -> ASGIApp:
    """What answers a request no route matched: the page for GET and HEAD, else a JSON 404."""
    page_app = make_page_app(page_dir)

    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] in ("GET", "HEAD"):
            await page_app(scope, receive, send)
            return
        raise ApiError(404, "not_found", f"no route {scope['method']} {scope['path']}; see /docs for the API")

    return not_found
