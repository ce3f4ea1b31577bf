"""Serving the built web page (``page/dist``) at ``/`` for GET requests that match no API route.

Only requests that no API route claims reach here, so API paths keep their own 404/405 answers.
"""

from __future__ import annotations

from pathlib import Path

from modelport.gateway.errors import ApiError



def find_page_dir(configured: Path | None) -> Path | None:
    """The page directory: MODELPORT_PAGE_DIR when set, else the installed page (a wheel's copy, or a
    checkout's page/dist), when built; None when there is no page."""
    from modelport.resources import page_dir

    candidate = configured if configured is not None else page_dir()
    return candidate if (candidate / "index.html").is_file() else None


def make_page_app(page_dir: Path | None):
    """An ASGI app serving the page files (index.html for `/`), or a JSON 404 when there is no page."""
    if page_dir is None:
        async def no_page(scope, receive, send):
            raise ApiError(
                404, "not_found",
                f"no route {scope['method']} {scope['path']}; the web page is not built (npm run build in page/); "
                "the API is described at /docs",
            )

        return no_page

    from starlette.staticfiles import StaticFiles

    return StaticFiles(directory=page_dir, html=True)
