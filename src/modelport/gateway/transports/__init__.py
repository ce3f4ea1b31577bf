"""How the gateway reaches the SageMaker Runtime API: one interface, three transports (as httpx's transports).

- ``base.py``: the interface (``invoke``, ``invoke_stream``) and ``Invocation``.
- ``boto3_transport.py``: boto3's ``sagemaker-runtime`` client (real SageMaker, signed requests).
- ``http_transport.py``: pooled keep-alive HTTP/1.1 with the same wire protocol, for a plain ``http://``
  Runtime URL (modelport hosting, which takes its token as a bearer token).
- ``in_process.py``: the same requests handed to hosting's handler when hosting runs in the gateway's
  process (``modelport up``: ``modelport.stack.services`` builds it; no setting can, since it needs hosting).
- ``wire.py``: reading the Runtime API's answers (errors, event streams), for the HTTP and in-process ones.
- ``errors.py``: the one table from SageMaker's error names to the gateway's errors, used by all three.

``choose_transport`` reads ``MODELPORT_RUNTIME_CLIENT``: ``auto`` (the default) takes the HTTP transport
for a local gateway whose Runtime URL is plain ``http://`` (hosting) and boto3 otherwise (AWS, https);
``boto3`` and ``http`` force one; ``in-process`` is what ``auto`` means under ``modelport up``, and a
configuration error anywhere else. The chosen transport's module is imported only then, so Lambda never
imports the HTTP one.
"""

from __future__ import annotations

from typing import Any

from modelport.gateway.transports.base import Invocation, RuntimeTransport

__all__ = ["CHOICES", "IN_PROCESS", "Invocation", "RuntimeTransport", "choose_transport", "transport_name"]

CHOICES = ("auto", "boto3", "http", "in-process")
IN_PROCESS = "in-process"  # only modelport up can build it (hosting in the same process)


def transport_name(choice: str, runtime_url: str | None, local: bool) -> tuple[str, str | None]:
    """("boto3" | "http", a configuration error or None) for a MODELPORT_RUNTIME_CLIENT value."""
    value = choice.strip().lower() or "auto"
    plain_http = bool(runtime_url) and runtime_url.startswith("http://")
    automatic = "http" if plain_http and local else "boto3"
    if value == "auto" or value == "boto3":
        return (automatic if value == "auto" else "boto3"), None
    if value == "http":
        if plain_http:
            return "http", None
        return "boto3", ("MODELPORT_RUNTIME_CLIENT=http needs AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME set to a plain http:// URL "
                         "(modelport hosting); using boto3")
    if value == IN_PROCESS:
        return automatic, (f"MODELPORT_RUNTIME_CLIENT=in-process works only under `modelport up`, where hosting runs in "
                           f"the gateway's process; using {automatic}, as auto would")
    return automatic, (f"MODELPORT_RUNTIME_CLIENT={choice!r} is not known; accepted: {', '.join(CHOICES)} "
                       f"(using {automatic}, as auto would)")


def choose_transport(
    choice: str, runtime_url: str | None, *, local: bool, hosting_token: str, session_kwargs: dict[str, Any],
    timeout: float,
) -> tuple[RuntimeTransport, str | None]:
    """The transport MODELPORT_RUNTIME_CLIENT asks for, and a configuration error or None."""
    name, error = transport_name(choice, runtime_url, local)
    if name == "http":
        from modelport.gateway.transports.http_transport import HttpTransport

        return HttpTransport(runtime_url, token=hosting_token, timeout=timeout), error
    from modelport.gateway.transports.boto3_transport import Boto3Transport

    return Boto3Transport(runtime_url, session_kwargs, timeout), error
