"""The ``context`` object passed to handler functions that take one more argument.

It mirrors what SageMaker's toolkits hand over (the MMS/TorchServe Context): ``system_properties``
with ``model_dir`` and ``gpu_id``, and the request headers through ``request_processor[0]``.
"""

from __future__ import annotations

from typing import Any


class RequestProcessor:
    """Holds one request's headers, as ``context.request_processor[0]`` does in SageMaker."""

    __slots__ = ("_headers",)

    def __init__(self, headers: dict[str, str]):
        self._headers = headers

    def get_request_properties(self) -> dict[str, str]:
        """All request headers (lower-case names)."""
        return self._headers

    def get_request_property(self, key: str) -> str | None:
        """One request header by name (case-insensitive)."""
        return self._headers.get(key.lower())


class Context:
    """What a handler's trailing ``context`` parameter receives."""

    def __init__(self, model_dir: str, gpu_id: int | None = None, model_name: str = "model"):
        self.system_properties: dict[str, Any] = {"model_dir": model_dir, "gpu_id": gpu_id}
        self.model_name = model_name
        self.manifest: dict[str, Any] = {"model": {"modelName": model_name}}
        self.request_processor: list[RequestProcessor] = [RequestProcessor({})]
        self.response_content_type: str | None = None

    def for_request(self, headers: dict[str, str]) -> Context:
        """A copy of this context carrying one request's headers."""
        request_context = Context.__new__(Context)
        request_context.__dict__.update(self.__dict__)
        request_context.request_processor = [RequestProcessor(headers)]
        request_context.response_content_type = None
        return request_context

    def get_request_header(self, idx: int, key: str) -> str | None:
        """Header ``key`` of request ``idx`` (only index 0 exists: one request at a time)."""
        return self.request_processor[idx].get_request_property(key)

    def get_all_request_header(self, idx: int) -> dict[str, str]:
        """All headers of request ``idx``."""
        return self.request_processor[idx].get_request_properties()

    def set_response_content_type(self, idx: int, value: str) -> None:
        """Set the response Content-Type from inside a handler (MMS API)."""
        self.response_content_type = value
