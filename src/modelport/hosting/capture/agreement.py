"""Whether two answers of models to the same request agree: the one rule of the shadow report and replay.

Answers are parsed by their content type (JSON; CSV as rows of numbers or strings; anything else compared as
bytes). Then, recursively:

- a classifier's output agrees when its predicted class does: ``{"probabilities": [...]}`` (or ``scores``) and a
  list of probabilities (numbers in [0, 1] summing to 1) compare by argmax, a row at a time for a list of rows;
  ``{"label": ...}`` / ``{"predicted_label": ...}`` compare that label alone;
- other numbers agree within a tolerance (relative ``rel``, absolute ``abs``);
- strings, booleans and null must be equal; objects need the same keys, lists the same length.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from modelport.hosting.capture.config import media_type

REL_TOLERANCE = 1e-4
ABS_TOLERANCE = 1e-6
_LABEL_KEYS = ("predicted_label", "label", "labels", "predicted_labels")
_PROBABILITY_KEYS = ("probabilities", "probability", "scores")


def parse(body: bytes, content_type: str | None) -> Any:
    """An answer as data: JSON, CSV rows (numbers where they parse), else the bytes themselves."""
    kind = media_type(content_type or "")
    text: str | None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    if kind.endswith("json") or kind == "application/jsonlines":
        try:
            return json.loads(text)
        except ValueError:
            lines = [line for line in text.splitlines() if line.strip()]
            try:
                return [json.loads(line) for line in lines]
            except ValueError:
                return text
    if kind == "text/csv":
        rows = [[_number(cell) for cell in row] for row in csv.reader(io.StringIO(text)) if row]
        return rows[0] if len(rows) == 1 else rows
    return body


def _number(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell.strip()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_probabilities(value: Any) -> bool:
    return (isinstance(value, list) and len(value) > 1 and all(_is_number(v) and 0.0 <= v <= 1.0 for v in value)
            and abs(sum(value) - 1.0) <= 1e-3)


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def agree(a: Any, b: Any, rel: float = REL_TOLERANCE, abs_: float = ABS_TOLERANCE) -> bool:
    """Whether parsed answers ``a`` and ``b`` agree (see the module docstring)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in _LABEL_KEYS:
            if key in a and key in b:
                return agree(a[key], b[key], rel, abs_)
        for key in _PROBABILITY_KEYS:
            if key in a and key in b:
                return _classes_agree(a[key], b[key], rel, abs_)
        return a.keys() == b.keys() and all(agree(a[k], b[k], rel, abs_) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        if _is_probabilities(a) and _is_probabilities(b):
            return len(a) == len(b) and _argmax(a) == _argmax(b)
        return len(a) == len(b) and all(agree(x, y, rel, abs_) for x, y in zip(a, b))
    if _is_number(a) and _is_number(b):
        return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)
    return type(a) is type(b) and a == b


def _classes_agree(a: Any, b: Any, rel: float, abs_: float) -> bool:
    if isinstance(a, list) and a and all(_is_number(v) for v in a):
        return isinstance(b, list) and len(a) == len(b) and all(_is_number(v) for v in b) and _argmax(a) == _argmax(b)
    if isinstance(a, list) and isinstance(b, list):  # rows of probabilities
        return len(a) == len(b) and all(_classes_agree(x, y, rel, abs_) for x, y in zip(a, b))
    return agree(a, b, rel, abs_)


def answers_agree(a: bytes, a_type: str | None, b: bytes, b_type: str | None, rel: float = REL_TOLERANCE,
                  abs_: float = ABS_TOLERANCE) -> bool:
    """Whether two raw answers agree (each parsed by its content type)."""
    return agree(parse(a, a_type), parse(b, b_type), rel, abs_)
