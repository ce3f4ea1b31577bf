"""Content-type names and the small parsers for ``Content-Type`` and ``Accept`` headers."""

from __future__ import annotations

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
OCTET_STREAM = "application/octet-stream"
TEXT = "text/plain"
ANY = "*/*"

# Bodies of these types reach input_fn as ``str`` (SageMaker decodes exactly these two).
TEXT_DECODED = frozenset({JSON, CSV})


def media_type(header: str | None) -> tuple[str | None, str]:
    """Split a Content-Type header into (bare lower-case media type, charset).

    ``application/json; charset=utf-8`` → ``("application/json", "utf-8")``. SageMaker compares the
    whole header, so a charset suffix defeats its defaults; modelport is more forgiving.
    """
    if not header:
        return None, "utf-8"
    bare, _, params = header.partition(";")
    charset = "utf-8"
    if params:
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip('"').lower()
    return bare.strip().lower(), charset


def parse_accept(accept: str) -> list[str]:
    """The media types of an Accept header in the order given, without parameters or ``*/*``.

    Like SageMaker: no q-value ordering, a ``*/*`` inside a list is skipped.
    """
    types = []
    for part in accept.split(","):
        bare = part.split(";", 1)[0].strip().lower()
        if bare and bare != ANY:
            types.append(bare)
    return types
