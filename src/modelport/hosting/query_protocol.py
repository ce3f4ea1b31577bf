"""AWS's query protocol (STS, IAM): a form-encoded ``Action=…&Version=…`` request answered with XML.

botocore reads a result from ``<{Action}Response><{Action}Result>…`` and an error from
``<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error>``; lists are ``<member>`` elements.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

from modelport.net.messages import Request, Response

_XML = ("Content-Type", "text/xml")


class QueryError(Exception):
    """A refused query-protocol call: ``code`` (e.g. ``InvalidAction``, ``NoSuchEntity``) and an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def form(request: Request) -> dict[str, str]:
    """The request's parameters: the form body of a POST, else the query string."""
    text = request.body.decode("utf-8", "replace") if request.method == "POST" else request.query
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def members(params: dict[str, str], name: str) -> list[str]:
    """A list parameter: ``Name.member.1``, ``Name.member.2``, … in order."""
    found = []
    index = 1
    while f"{name}.member.{index}" in params:
        found.append(params[f"{name}.member.{index}"])
        index += 1
    return found


def _fill(parent: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            if child is not None:
                _fill(ElementTree.SubElement(parent, key), child)
    elif isinstance(value, list):  # query-protocol lists are <member> elements
        for item in value:
            _fill(ElementTree.SubElement(parent, "member"), item)
    elif isinstance(value, bool):
        parent.text = "true" if value else "false"
    else:
        parent.text = str(value)


def result(action: str, namespace: str, content: dict[str, Any]) -> Response:
    """``<{action}Response><{action}Result>content</…>`` with a request id."""
    root = ElementTree.Element(f"{action}Response", {"xmlns": namespace})
    _fill(ElementTree.SubElement(root, f"{action}Result"), content)
    _fill(ElementTree.SubElement(root, "ResponseMetadata"), {"RequestId": str(uuid.uuid4())})
    return Response(200, [_XML], ElementTree.tostring(root, encoding="utf-8"))


def error(exc: QueryError, namespace: str) -> Response:
    """The query protocol's error document."""
    root = ElementTree.Element("ErrorResponse", {"xmlns": namespace})
    _fill(root, {"Error": {"Type": "Sender" if exc.status < 500 else "Receiver", "Code": exc.code,
                           "Message": exc.message},
                 "RequestId": str(uuid.uuid4())})
    return Response(exc.status, [_XML], ElementTree.tostring(root, encoding="utf-8"))
