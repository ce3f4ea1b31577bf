"""One S3 request as the operations see it: the parsed target and query, and the store to act on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qs

from modelport.hosting.s3.addressing import Target, target
from modelport.net.messages import Request
from modelport.objectstore import ObjectStore

T = TypeVar("T")


@dataclass
class S3Call:
    """``query`` maps each parameter to its first value ('' for a bare subresource such as ``?uploads``)."""

    request: Request
    target: Target
    query: dict[str, str]
    store: ObjectStore
    region: str
    request_id: str

    @classmethod
    def parse(cls, request: Request, store: ObjectStore, region: str, request_id: str) -> "S3Call":
        """Read the bucket, key and query of ``request``."""
        query = {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        return cls(request, target(request.headers.get("host", ""), request.path), query, store, region, request_id)

    @property
    def headers(self) -> dict[str, str]:
        """The request's headers (lower-case names)."""
        return self.request.headers

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking store call off the event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)
