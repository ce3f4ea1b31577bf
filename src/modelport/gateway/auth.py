"""Optional API keys (``MODELPORT_API_KEYS``), sent as ``x-api-key`` or ``Authorization: Bearer``.

No key configured: the API is open. Keys configured: a request without one gets 401, with an unknown
one 403. Keys are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac

from modelport.gateway.errors import ApiError


class ApiKeys:
    """The accepted keys, and the check of one request's key."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = [k.encode() for k in keys]

    @property
    def enabled(self) -> bool:
        """Whether keys are required at all."""
        return bool(self.keys)

    @staticmethod
    def presented(headers: dict[str, str]) -> str | None:
        """The key a request carries (x-api-key first, then a Bearer token), or None."""
        key = headers.get("x-api-key")
        if key:
            return key.strip()
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip() or None
        return None

    def check(self, key: str | None) -> None:
        """Raise 401 when no key was sent, 403 when the key is not one of ours."""
        if key is None:
            raise ApiError(401, "missing_api_key", "this API needs an API key: send it in the x-api-key header")
        given = key.encode()
        if not any(hmac.compare_digest(given, k) for k in self.keys):
            raise ApiError(403, "invalid_api_key", "the API key is not accepted")
