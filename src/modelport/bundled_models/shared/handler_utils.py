"""Small helpers for the bundled models' SageMaker handlers (copied into code/ at pack time).

Errors carry an HTTP status the SageMaker way (`sagemaker_inference.errors.GenericInferenceToolkitError`,
which real SageMaker toolkits and modelport's runtime both honour); when that package is absent a
stand-in with the same `status_code` / `message` attributes is used.
"""

import functools

try:
    from sagemaker_inference.errors import GenericInferenceToolkitError as _StatusError
except ImportError:  # pragma: no cover - depends on the serving container

    class _StatusError(Exception):
        """Stand-in for GenericInferenceToolkitError: an exception that carries an HTTP status."""

        def __init__(self, status_code, message=None, phrase=None):
            self.status_code = status_code
            self.message = message or "Invalid Request"
            self.phrase = phrase or self.message
            super().__init__(status_code, self.message, self.phrase)


MAX_INSTANCES = 10_000


def request_error(status_code: int, message: str) -> Exception:
    """An exception that makes the server answer `status_code` with `message`."""
    return _StatusError(status_code, message)


def bad_request(message: str) -> Exception:
    """A 400 error with `message` (what was wrong and what is accepted)."""
    return request_error(400, message)


def media_type(content_type) -> str:
    """The bare, lower-case media type of a Content-Type value (parameters such as charset dropped)."""
    return (content_type or "application/json").split(";")[0].strip().lower()


def as_text(body) -> str:
    """A request body (str, bytes or bytearray) as UTF-8 text; 400 when it is not UTF-8."""
    if isinstance(body, str):
        return body
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad_request(f"the request body is not UTF-8 text ({e.reason} at byte {e.start})") from None


def as_bytes(body) -> bytes:
    """A request body as bytes."""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


# clients send the same Accept on every request: the choice is remembered (a refusal raises, so it is not)
@functools.lru_cache(maxsize=64)
def pick_accept(accept, supported) -> str:
    """The first type in the Accept list that `supported` (a tuple) holds; the first supported type for none or */*.

    Raises a 406 error naming the supported types when nothing in the list is supported.
    """
    wanted = [media_type(t) for t in (accept or "").split(",") if t.strip()]
    if not wanted or wanted == ["*/*"]:
        return supported[0]
    for candidate in wanted:
        if candidate in supported:
            return candidate
    if "*/*" in wanted:
        return supported[0]
    raise request_error(406, f"cannot answer in {accept!r}; this model answers in {', '.join(supported)}")
