"""Checks of ``POST /predict/{model}`` bodies, by route kind, with 400s that name the field.

The gateway checks the shape so a client learns what was wrong before a model is called, then forwards
the original bytes untouched. The accepted forms are the bundled models' (``src/modelport/bundled_models/*/code/inference.py``):
digits as ``{"pixels": [784 floats 0..1]}``, ``{"instances": [[784 floats], ...]}`` or
``{"image": "<base64 PNG/JPEG>"}``; text as ``{"text": "..."}`` or ``{"instances": ["...", ...]}``.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any

from modelport.gateway.errors import ApiError
from modelport.gateway.model_table import IMAGE_CLASSIFIER, TEXT_CLASSIFIER

PIXELS = 784  # 28 x 28
MAX_INSTANCES = 256
MAX_TEXT_CHARS = 5000
_NUMBER_TYPES = {int, float}
DIGIT_FORMS = '{"pixels": [784 numbers 0..1]}, {"instances": [[784 numbers 0..1], ...]} or {"image": "<base64 PNG or JPEG>"}'
TEXT_FORMS = '{"text": "..."} or {"instances": ["...", ...]}'


def bad_field(field: str, message: str) -> ApiError:
    """A 400 about one field of the request body."""
    return ApiError(400, "invalid_field", f"{field}: {message}", field=field)


def validate_predict_body(kind: str, payload: Any, raw: bytes | None = None) -> bytes | None:
    """Check a parsed body for a route kind; raise a 400 naming the field, or return replacement bytes.

    Returns None when the original body can be forwarded as is (the common case); returns new bytes
    only when the body had to be normalised (a `data:` URL prefix removed from `image`). `raw`, the
    body as received, lets the pixel check skip its type scan when the body has no JSON true/false.
    """
    if kind not in (IMAGE_CLASSIFIER, TEXT_CLASSIFIER):
        if not isinstance(payload, (dict, list)):
            raise ApiError(400, "invalid_body", "the body must be a JSON object or array")
        return None
    if not isinstance(payload, dict):
        forms = DIGIT_FORMS if kind == IMAGE_CLASSIFIER else TEXT_FORMS
        raise ApiError(400, "invalid_body", f"the body must be a JSON object: {forms}")
    if kind == IMAGE_CLASSIFIER:
        # JSON true has a "u" and false an "f"; numbers and the digit forms' field names have neither,
        # and a one-byte search is a memchr (a search for b"true" costs more than the check it saves)
        may_have_bools = raw is None or b"u" in raw or b"f" in raw
        return _validate_digits(payload, may_have_bools)
    _validate_text(payload)
    return None


def _one_of(payload: dict, names: tuple[str, ...], forms: str) -> str:
    present = [n for n in names if n in payload]
    if len(present) != 1:
        got = ", ".join(sorted(payload)) or "no fields"
        which = "more than one of " if present else "none of "
        raise ApiError(
            400, "invalid_body", f"the body has {which}{', '.join(names)} (got {got}); send exactly one: {forms}",
            field="/".join(names),
        )
    return present[0]


def _numbers_in_unit_range(values: list, may_have_bools: bool) -> bool:
    """Whether every value is an int or float between 0 and 1, checked in C (runs on every digit request)."""
    try:
        ordered = sorted(values)  # TypeError for a mix of numbers and non-numbers
        if not (ordered[0] >= 0.0 and ordered[-1] <= 1.0):  # TypeError when none is a number
            return False
    except TypeError:
        return False
    # JSON true/false become bools, which sort as 0 and 1: rule them out by type unless the body has neither
    return not may_have_bools or set(map(type, values)) <= _NUMBER_TYPES


def _check_pixels(values: Any, field: str, may_have_bools: bool = True) -> None:
    if not isinstance(values, list):
        raise bad_field(field, f"expected a list of {PIXELS} numbers between 0 and 1 (a 28x28 image, row by row)")
    if len(values) != PIXELS:
        raise bad_field(field, f"expected {PIXELS} numbers (a 28x28 image, row by row), got {len(values)}")
    if _numbers_in_unit_range(values, may_have_bools):
        return
    for i, v in enumerate(values):  # slow path only to name the offending value
        if type(v) not in (int, float) or not 0.0 <= v <= 1.0:
            raise bad_field(f"{field}[{i}]", f"expected a number between 0 and 1, got {v!r}")


def _validate_digits(payload: dict, may_have_bools: bool = True) -> bytes | None:
    name = _one_of(payload, ("pixels", "instances", "image"), DIGIT_FORMS)
    value = payload[name]
    if name == "pixels":
        _check_pixels(value, "pixels", may_have_bools)
        return None
    if name == "instances":
        if not isinstance(value, list) or not value:
            raise bad_field("instances", f"expected a non-empty list of images, each {PIXELS} numbers between 0 and 1")
        if len(value) > MAX_INSTANCES:
            raise bad_field("instances", f"at most {MAX_INSTANCES} images per request, got {len(value)}")
        for i, row in enumerate(value):
            _check_pixels(row, f"instances[{i}]", may_have_bools)
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad_field("image", "expected a base64-encoded PNG or JPEG as a string")
    data = value
    if data.startswith("data:"):
        # a browser data URL (data:image/png;base64,...): keep only the base64 part
        head, sep, data = data.partition(",")
        if not sep or ";base64" not in head:
            raise bad_field("image", "a data: URL must be base64 (data:image/png;base64,...)")
    try:
        b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise bad_field("image", "not valid base64; send the PNG or JPEG file's bytes base64-encoded") from None
    if data is value:
        return None
    import orjson

    return orjson.dumps({**payload, "image": data})


def _check_text(value: Any, field: str) -> None:
    if not isinstance(value, str):
        raise bad_field(field, "expected a string")
    if not value.strip():
        raise bad_field(field, "the text is empty")
    if len(value) > MAX_TEXT_CHARS:
        raise bad_field(field, f"the text has {len(value)} characters; at most {MAX_TEXT_CHARS} are accepted")


def _validate_text(payload: dict) -> None:
    name = _one_of(payload, ("text", "instances"), TEXT_FORMS)
    value = payload[name]
    if name == "text":
        _check_text(value, "text")
        return
    if not isinstance(value, list) or not value:
        raise bad_field("instances", "expected a non-empty list of strings")
    if len(value) > MAX_INSTANCES:
        raise bad_field("instances", f"at most {MAX_INSTANCES} texts per request, got {len(value)}")
    for i, text in enumerate(value):
        _check_text(text, f"instances[{i}]")
