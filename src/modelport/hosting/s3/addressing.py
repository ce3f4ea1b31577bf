"""Where an S3 request points: the bucket from the ``Host`` (virtual-hosted style) or the first path
segment (path style), and the key after it.

botocore sends path style when ``AWS_ENDPOINT_URL`` is an IP address (``http://127.0.0.1:8001/bucket/key``)
and virtual-hosted style for a host name (``Host: bucket.localhost:8001``, path ``/key``). A host is
virtual-hosted when it is ``<bucket>.`` followed by one of hosting's loopback names.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

# The names hosting answers as itself; ``<bucket>.<name>`` is a virtual-hosted bucket on loopback.
LOOPBACK_NAMES = ("localhost", "127.0.0.1")


def host_name(host: str) -> str:
    """``Host`` without its port, lower-cased (``[::1]:8001`` → ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host


def virtual_host_bucket(host: str) -> str | None:
    """The bucket a virtual-hosted ``Host`` names (``b.localhost:8001`` → ``b``), else None.

    The auth gate uses :func:`split_virtual_host` to see that such a host is loopback.
    """
    return split_virtual_host(host)[0]


def split_virtual_host(host: str) -> tuple[str | None, str]:
    """``(bucket, base host name)``: ``b.localhost:8001`` → ``("b", "localhost")``; a plain host → ``(None, host)``."""
    name = host_name(host)
    for base in LOOPBACK_NAMES:
        suffix = "." + base
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], base
    return None, name


@dataclass(frozen=True)
class Target:
    """A request's bucket (empty: the service, e.g. ListBuckets) and key (empty: the bucket itself)."""

    bucket: str
    key: str


def target(host: str, path: str) -> Target:
    """The bucket and key of a request, from its ``Host`` and URL-encoded ``path``."""
    bucket = virtual_host_bucket(host)
    if bucket is not None:
        return Target(bucket, unquote(path[1:]) if path.startswith("/") else unquote(path))
    rest = path[1:] if path.startswith("/") else path
    name, _, key = rest.partition("/")
    return Target(unquote(name), unquote(key))
