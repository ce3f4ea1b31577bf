"""The ASGI lifespan protocol: ``lifespan.startup`` before a server serves, ``lifespan.shutdown`` after."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from modelport.net.asgi import ASGI_VERSION
from modelport.net.asgi_types import Message, Scope

if TYPE_CHECKING:
    from modelport.net.asgi import AsgiApp

log = logging.getLogger("modelport.net")


class Lifespan:
    """Runs the application's lifespan: :meth:`startup` before serving, :meth:`shutdown` after."""

    def __init__(self, app: "AsgiApp") -> None:
        self.app = app
        self.supported = True
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started = asyncio.Event()
        self._stopped = asyncio.Event()
        self._failure: str | None = None
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        scope: Scope = {"type": "lifespan", "asgi": ASGI_VERSION, "state": self.app.state}
        try:
            await self.app.app(scope, self._inbox.get, self._send)
        except Exception as exc:  # noqa: BLE001 - an app without lifespan support raises on the scope
            if not self._started.is_set():
                self.supported = False
                log.debug("the application does not support lifespan: %s", exc)
            else:
                log.exception("the application's lifespan failed")
        finally:
            self._started.set()
            self._stopped.set()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
            if kind.endswith("failed"):
                self._failure = message.get("message") or "lifespan startup failed"
            self._started.set()
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            self._stopped.set()

    async def startup(self) -> None:
        """Send ``lifespan.startup``; raises RuntimeError when the application reports a failure."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._inbox.put({"type": "lifespan.startup"})
        await self._started.wait()
        if self._failure:
            raise RuntimeError(self._failure)

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Send ``lifespan.shutdown`` and wait (bounded) for the application to finish it."""
        if self._task is None or not self.supported or self._task.done():
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self._stopped.wait(), timeout)
        except asyncio.TimeoutError:
            self._task.cancel()
