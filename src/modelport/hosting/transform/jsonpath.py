"""The JSONPath subset SageMaker batch transform accepts in ``DataProcessing`` filters.

SageMaker documents: ``$`` (the whole record), ``.name`` / ``['name']`` (a member), ``['a','b']`` (several
members: an object of them), ``[i]`` and ``[i,j]`` (elements, negative counts from the end), ``[start:end]``
(a slice whose end is *inclusive*, "``$[1:4]``: the second through fifth columns"; either bound may be left
out) and ``*`` (every member or element). Steps chain (``$.features[1:]``). Anything else is refused with
the accepted forms, so a filter fails at CreateTransformJob, never halfway through a job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ACCEPTED = ("$, $.name, $['name'], $['a','b'], $[0], $[0,-1], $[1:4] (end inclusive), $[2:], $[*], $.* "
            "and chains of these, e.g. $.features[1:]")
_NAME = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*|\*)")
_BRACKET = re.compile(r"\[([^\]]*)\]")
_QUOTED = re.compile(r"\s*'((?:[^'\\]|\\.)*)'\s*")
_INT = re.compile(r"\s*(-?\d+)\s*")


class JsonPathError(ValueError):
    """A filter outside the supported subset; the message says what is accepted."""


class NoMatch(LookupError):
    """The filter selects nothing in this record (a missing member or an index out of range)."""


@dataclass(frozen=True)
class _Step:
    kind: str  # key, keys, indexes, slice, all
    keys: tuple = ()
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class JsonPath:
    """A parsed filter; :meth:`apply` selects from a decoded record (a list for a CSV row)."""

    text: str
    steps: tuple[_Step, ...]

    @property
    def is_identity(self) -> bool:
        """Whether the filter is ``$`` (selects the whole record)."""
        return not self.steps

    def apply(self, value: Any) -> Any:
        """The selected part of ``value``; :class:`NoMatch` when a member or index is missing."""
        for step in self.steps:
            value = _select(step, value)
        return value


def parse(text: str | None) -> JsonPath:
    """Parse a filter (None or empty means ``$``); :class:`JsonPathError` for anything unsupported."""
    text = (text or "$").strip()
    if not text.startswith("$"):
        raise JsonPathError(f"the JSONPath {text!r} must start with $; accepted: {ACCEPTED}")
    steps: list[_Step] = []
    at = 1
    while at < len(text):
        name = _NAME.match(text, at)
        if name:
            steps.append(_Step("all") if name.group(1) == "*" else _Step("key", (name.group(1),)))
            at = name.end()
            continue
        bracket = _BRACKET.match(text, at)
        if not bracket:
            raise JsonPathError(f"cannot read the JSONPath {text!r} at {text[at:]!r}; accepted: {ACCEPTED}")
        steps.append(_bracket(bracket.group(1), text))
        at = bracket.end()
    return JsonPath(text, tuple(steps))


def _bracket(inner: str, text: str) -> _Step:
    if inner.strip() == "*":
        return _Step("all")
    if ":" in inner:
        start, _, end = inner.partition(":")
        try:
            return _Step("slice", start=int(start) if start.strip() else None, end=int(end) if end.strip() else None)
        except ValueError:
            raise JsonPathError(f"the slice [{inner}] in {text!r} must be [start:end] with whole numbers; "
                                f"accepted: {ACCEPTED}") from None
    parts = inner.split(",")
    quoted = [_QUOTED.fullmatch(p) for p in parts]
    if all(quoted):
        keys = tuple(m.group(1).replace("\\'", "'") for m in quoted)
        return _Step("key" if len(keys) == 1 else "keys", keys)
    numbers = [_INT.fullmatch(p) for p in parts]
    if all(numbers):
        return _Step("indexes", tuple(int(m.group(1)) for m in numbers))
    raise JsonPathError(f"cannot read [{inner}] in {text!r}; accepted: {ACCEPTED}")


def _select(step: _Step, value: Any) -> Any:
    if step.kind == "key":
        if not isinstance(value, dict) or step.keys[0] not in value:
            raise NoMatch(f"no member {step.keys[0]!r}")
        return value[step.keys[0]]
    if step.kind == "keys":
        if not isinstance(value, dict):
            raise NoMatch(f"members {list(step.keys)} of something that is not an object")
        missing = [k for k in step.keys if k not in value]
        if missing:
            raise NoMatch(f"no member {missing[0]!r}")
        return {k: value[k] for k in step.keys}
    if step.kind == "all":
        if isinstance(value, dict):
            return list(value.values())
        if isinstance(value, list):
            return value
        raise NoMatch("* of something that is neither an object nor an array")
    if not isinstance(value, list):
        raise NoMatch("an index of something that is not an array")
    if step.kind == "indexes":
        try:
            picked = [value[i] for i in step.keys]
        except IndexError:
            raise NoMatch(f"index out of range {list(step.keys)} for {len(value)} elements") from None
        return picked[0] if len(picked) == 1 else picked
    end = None if step.end is None else (step.end + 1 if step.end != -1 else None)  # inclusive end
    return value[step.start:end]
