"""S3's XML documents: building answers and reading the few request bodies S3 takes (bounded, no DTDs)."""

from __future__ import annotations

import time
from typing import Any
from xml.etree import ElementTree

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_XML_BODY = 2 * 1024 * 1024  # 1,000 keys to delete or 10,000 parts to complete fit well within this
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


class XmlBodyError(ValueError):
    """The request's XML body is malformed, too large or uses a DTD."""


def iso8601(epoch: float) -> str:
    """``2026-11-26T10:11:12.000Z``, as S3 writes times in XML."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


def http_date(epoch: float) -> str:
    """``Thu, 26 Nov 2026 10:11:12 GMT``, as S3 writes times in headers."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(epoch))


def _fill(parent: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            if isinstance(child, list):  # repeated elements: {"Contents": [{...}, {...}]}
                for item in child:
                    _fill(ElementTree.SubElement(parent, name), item)
            elif child is not None:
                _fill(ElementTree.SubElement(parent, name), child)
    elif isinstance(value, bool):
        parent.text = "true" if value else "false"
    else:
        parent.text = str(value)


def document(root: str, content: dict[str, Any] | str, namespace: bool = True) -> bytes:
    """An XML document ``<root>`` holding ``content`` (dicts nest, lists repeat, None is left out; a string
    is the root's text)."""
    element = ElementTree.Element(root, {"xmlns": NAMESPACE} if namespace else {})
    _fill(element, content)
    return _DECLARATION + ElementTree.tostring(element, encoding="utf-8")


def parse(body: bytes) -> ElementTree.Element:
    """The root element of a request body; namespaces are stripped from tag names."""
    if len(body) > MAX_XML_BODY:
        raise XmlBodyError(f"the XML body is larger than {MAX_XML_BODY} bytes")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise XmlBodyError("document type declarations are not accepted")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise XmlBodyError(str(exc)) from None
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return root


def child_text(element: ElementTree.Element, name: str) -> str | None:
    """The text of ``element``'s first child called ``name`` (None when absent)."""
    found = element.find(name)
    return None if found is None else (found.text or "")
