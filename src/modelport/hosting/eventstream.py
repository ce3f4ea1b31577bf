"""AWS event-stream framing (``application/vnd.amazon.eventstream``), as botocore reads it.

A message is: total length (u32), headers length (u32), CRC32 of those 8 bytes, the headers,
the payload, and a CRC32 of everything before it. Headers here are all strings (type 7).
"""

from __future__ import annotations

import struct
import zlib

CONTENT_TYPE = "application/vnd.amazon.eventstream"


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        out += struct.pack("!B", len(raw_name)) + raw_name + b"\x07" + struct.pack("!H", len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message."""
    head = _headers(headers)
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack("!II", total, len(head))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    message = prelude + head + payload
    return message + struct.pack("!I", zlib.crc32(message))


def payload_part(data: bytes) -> bytes:
    """A ``PayloadPart`` event carrying ``data`` (its ``Bytes`` member is the event payload)."""
    return encode_message(
        {":event-type": "PayloadPart", ":content-type": "application/octet-stream", ":message-type": "event"}, data
    )


def model_stream_error(message: str, error_code: str) -> bytes:
    """A ``ModelStreamError`` exception event (botocore raises ``ModelStreamError`` while reading)."""
    import json

    body = json.dumps({"Message": message, "ErrorCode": error_code}).encode()
    return encode_message(
        {":exception-type": "ModelStreamError", ":content-type": "application/json", ":message-type": "exception"},
        body,
    )


def internal_stream_failure(message: str) -> bytes:
    """An ``InternalStreamFailure`` exception event."""
    import json

    body = json.dumps({"Message": message}).encode()
    return encode_message(
        {":exception-type": "InternalStreamFailure", ":content-type": "application/json",
         ":message-type": "exception"},
        body,
    )
