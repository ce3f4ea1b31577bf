"""One boto3 client built on first use, shared by threads: boto3 is imported and botocore's service model
loaded only then, not at import (Lambda cold starts), and only once however many threads ask at once."""

from __future__ import annotations

import threading
from typing import Any


class LazyClient:
    """``get()`` gives the ``service`` client for ``endpoint_url`` (None: AWS's own) with botocore ``config``."""

    def __init__(self, service: str, endpoint_url: str | None, session_kwargs: dict[str, Any], **config: Any) -> None:
        self.service = service
        self.endpoint_url = endpoint_url
        self.session_kwargs = session_kwargs
        self.config = config
        self._lock = threading.Lock()
        self._client = None

    def get(self):
        """The client (built by the first caller)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    self._client = boto3.session.Session(**self.session_kwargs).client(
                        self.service, endpoint_url=self.endpoint_url, config=Config(**self.config))
        return self._client
