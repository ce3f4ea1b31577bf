"""How an AWS client reaches hosting: its URL as the endpoint of every service, and its token as the
access key id (hosting checks the key id, not the signature, so the secret is a placeholder).

One home for these settings: ``modelport env`` prints them, hosting gives them to its instances so the
runtime reads ``s3://`` from hosting's store, and tests build their clients from them.
"""

from __future__ import annotations

SECRET_PLACEHOLDER = "modelport"


def credentials(token: str) -> dict[str, str]:
    """``AWS_ACCESS_KEY_ID`` (hosting's token, see :mod:`modelport.token`) and a placeholder secret."""
    return {"AWS_ACCESS_KEY_ID": token, "AWS_SECRET_ACCESS_KEY": SECRET_PLACEHOLDER}


def client_environment(url: str, token: str, region: str) -> dict[str, str]:
    """Everything an unmodified AWS SDK or CLI needs to use hosting for every service it calls."""
    return {"AWS_ENDPOINT_URL": url, **credentials(token), "AWS_DEFAULT_REGION": region, "AWS_REGION": region}


def s3_environment(url: str, token: str, region: str) -> dict[str, str]:
    """What an endpoint instance needs to read ``s3://`` from hosting's store (and nothing else of hosting)."""
    return {"AWS_ENDPOINT_URL_S3": url, **credentials(token), "AWS_DEFAULT_REGION": region, "AWS_REGION": region}


def is_same_server(url: str, port: int) -> bool:
    """Whether ``url`` points at a hosting on loopback ``port`` (e.g. ``AWS_ENDPOINT_URL`` exported by
    ``modelport env`` in the shell that started hosting)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        same_port = parts.port == port
    except ValueError:
        return False
    return same_port and (parts.hostname or "") in ("127.0.0.1", "localhost", "::1")
