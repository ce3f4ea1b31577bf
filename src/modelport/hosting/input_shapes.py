"""Check a control-plane request against SageMaker's own input shapes, member by member.

The shapes come from botocore's SageMaker service model (the file boto3 itself builds requests
from), so every field of every operation is checked as SageMaker checks it: JSON types, string and
list lengths, number ranges, enums, patterns, required members, and no unknown members. Type errors
are ``SerializationException`` and constraint errors ``ValidationException`` (both 400), in AWS's
wording. Only what is reachable from the operations hosting implements is kept in memory.

modelport widens one shape on purpose: ``Url`` (``ModelDataUrl``) also takes a path or a ``file://``
URI, and so do ``S3Uri`` (batch transform's input and output) and ``DestinationS3Uri`` (data capture's
destination); where they may point is decided by :mod:`.model_data`'s allowed roots instead.
"""

from __future__ import annotations

import gzip
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from modelport.hosting.errors import ControlError, validation

_WIDENED_PATTERNS = frozenset({"Url", "S3Uri", "DestinationS3Uri"})
_MAX_DEPTH = 32  # the shapes nest far less; a guard should a model ever become recursive
_UNICODE_CLASS = re.compile(r"\(?\[((?:\\p\{[A-Z]\}|\\.|[^\]\\])*)\]\*\)?")


def _model_file(service: str = "sagemaker") -> Path:
    """The newest ``service-2.json(.gz)`` of ``service`` on botocore's model search path."""
    from botocore.loaders import Loader

    for root in Loader().search_paths:
        folder = Path(root) / service
        if not folder.is_dir():
            continue
        for version in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True):
            for name in ("service-2.json", "service-2.json.gz"):
                if (version / name).is_file():
                    return version / name
    raise FileNotFoundError(f"botocore has no {service} service model")


def _unicode_class_matcher(pattern: str) -> Callable[[str], bool] | None:
    """A matcher for Java's ``[\\p{L}\\p{Z}...]*`` character classes (Python's ``re`` has no ``\\p``)."""
    found = _UNICODE_CLASS.fullmatch(pattern)
    if found is None:
        return None
    body = found.group(1)
    categories = tuple(re.findall(r"\\p\{([A-Z])\}", body))
    literals = set(re.sub(r"\\p\{[A-Z]\}", "", body).replace("\\", ""))

    def matches(value: str) -> bool:
        return all(c in literals or unicodedata.category(c).startswith(categories) for c in value)

    return matches


def _pattern_matcher(pattern: str) -> Callable[[str], bool] | None:
    """A whole-string matcher for an AWS pattern, or None when it cannot be expressed here."""
    # Java writes the supplementary planes as a surrogate-pair range; Python's str holds code points
    pattern = pattern.replace("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF")
    try:
        compiled = re.compile(pattern)
    except re.error:
        return _unicode_class_matcher(pattern)
    return lambda value: compiled.fullmatch(value) is not None


class Shapes:
    """The input shapes of a set of operations, compacted (no documentation)."""

    def __init__(self, model: dict[str, Any], operations: Iterable[str]) -> None:
        self.inputs: dict[str, str] = {}
        self.shapes: dict[str, dict[str, Any]] = {}
        for operation in operations:
            shape = model["operations"][operation]["input"]["shape"]
            self.inputs[operation] = shape
            self._keep(model["shapes"], shape)

    def _keep(self, shapes: dict[str, Any], name: str) -> None:
        if name in self.shapes:
            return
        raw = shapes[name]
        kind = raw["type"]
        shape: dict[str, Any] = {"type": kind, "name": name}
        for bound in ("min", "max"):
            if bound in raw:
                shape[bound] = raw[bound]
        if "enum" in raw:
            shape["enum"] = tuple(raw["enum"])
        if "pattern" in raw and name not in _WIDENED_PATTERNS:
            shape["pattern"] = (raw["pattern"], _pattern_matcher(raw["pattern"]))
        self.shapes[name] = shape
        if kind == "structure":
            shape["members"] = {member: spec["shape"] for member, spec in raw["members"].items()}
            shape["required"] = tuple(raw.get("required", ()))
            shape["union"] = bool(raw.get("union"))
            for target in shape["members"].values():
                self._keep(shapes, target)
        elif kind == "list":
            shape["member"] = raw["member"]["shape"]
            self._keep(shapes, shape["member"])
        elif kind == "map":
            shape["key"], shape["value"] = raw["key"]["shape"], raw["value"]["shape"]
            self._keep(shapes, shape["key"])
            self._keep(shapes, shape["value"])

    def check(self, operation: str, params: dict[str, Any]) -> None:
        """Raise :class:`ControlError` for the first member of ``params`` that breaks ``operation``'s input shape."""
        self._check(self.inputs[operation], params, "", 0)

    # one method per shape type; ``where`` is AWS's member path, e.g. productionVariants.1.member.variantName
    def _check(self, name: str, value: Any, where: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise validation(f"The request nests deeper than {_MAX_DEPTH} levels at '{where}'.")
        shape = self.shapes[name]
        getattr(self, f"_check_{shape['type']}")(shape, value, where, depth)

    def _check_structure(self, shape: dict[str, Any], value: Any, where: str, depth: int) -> None:
        _expect(isinstance(value, dict), "an object", value, where)
        members = shape["members"]
        unknown = [key for key in value if key not in members]
        if unknown:
            raise validation(f"Unknown parameter {_show(unknown[0])} at '{where or 'the request'}'; accepted: "
                             f"{', '.join(members)}.")
        for required in shape["required"]:
            if value.get(required) is None:
                raise constraint_error(None, _join(where, required), "Member must not be null")
        present = [key for key, item in value.items() if item is not None]
        if shape["union"] and len(present) != 1:
            raise validation(f"Exactly one of {', '.join(members)} must be set at '{where}'.")
        for key in present:
            self._check(members[key], value[key], _join(where, key), depth + 1)

    def _check_list(self, shape: dict[str, Any], value: Any, where: str, depth: int) -> None:
        _expect(isinstance(value, list), "a list", value, where)
        _length(shape, len(value), f"{len(value)} items", where, "length")
        for index, item in enumerate(value, 1):
            self._check(shape["member"], item, f"{where}.{index}.member", depth + 1)

    def _check_map(self, shape: dict[str, Any], value: Any, where: str, depth: int) -> None:
        _expect(isinstance(value, dict), "an object (a map)", value, where)
        _length(shape, len(value), f"{len(value)} entries", where, "number of entries")
        for key, item in value.items():
            _expect(item is not None, "a value", item, f"{where}.{key}")
            for part, checked in (("keys", key), ("value", item)):
                try:
                    self._check(shape["key" if part == "keys" else "value"], checked, where, depth + 1)
                except ControlError as exc:  # AWS words a map's errors as "Map keys/value must satisfy ..."
                    if exc.code != "ValidationException" or _RULE not in exc.message:
                        raise
                    rule = exc.message.split(_RULE, 1)[1]
                    raise constraint_error(checked, where, f"Map {part} must satisfy constraint: [{rule}]") from None

    def _check_string(self, shape: dict[str, Any], value: Any, where: str, depth: int) -> None:
        _expect(isinstance(value, str), "a string", value, where)
        if "enum" in shape and value not in shape["enum"]:
            raise constraint_error(value, where, f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]")
        _length(shape, len(value), value, where, "length")
        if "pattern" in shape:
            pattern, matches = shape["pattern"]
            if matches is not None and not matches(value):
                raise constraint_error(value, where, f"Member must satisfy regular expression pattern: {pattern}")

    def _check_integer(self, shape: dict[str, Any], value: Any, where: str, depth: int) -> None:
        _expect(isinstance(value, int) and not isinstance(value, bool), "an integer", value, where)
        _range(shape, value, where)

    _check_long = _check_integer

    def _check_float(self, shape: dict[str, Any], value: Any, where: str, depth: int) -> None:
        _expect(_is_number(value), "a number", value, where)
        _range(shape, value, where)

    _check_double = _check_float

    def _check_boolean(self, shape: dict[str, Any], value: Any, where: str, depth: int) -> None:
        _expect(isinstance(value, bool), "true or false", value, where)

    def _check_timestamp(self, shape: dict[str, Any], value: Any, where: str, depth: int) -> None:
        _expect(_is_number(value), "a timestamp (seconds since 1970 as a number)", value, where)

    def _check_blob(self, shape: dict[str, Any], value: Any, where: str, depth: int) -> None:
        _expect(isinstance(value, str), "a base64 string", value, where)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _join(where: str, member: str) -> str:
    member = member[0].lower() + member[1:]
    return f"{where}.{member}" if where else member


def _show(value: Any) -> str:
    """A short rendering of a value for an error message (never the whole of a large value)."""
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'list'}"
    text = str(value) if isinstance(value, str) else orjson.dumps(value).decode()
    return f"'{text[:80]}…'" if len(text) > 80 else f"'{text}'"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _expect(ok: bool, wanted: str, value: Any, where: str) -> None:
    if not ok:
        raise ControlError("SerializationException",
                           f"Expected {wanted} at '{where or 'the request'}' but got {_json_type(value)}.")


_RULE = "failed to satisfy constraint: "


def constraint_error(value: Any, where: str, rule: str) -> ControlError:
    """AWS's "1 validation error detected" message for one member (``value`` None: it was missing)."""
    shown = "null" if value is None else _show(value)
    return validation(f"1 validation error detected: Value {shown} at '{where}' {_RULE}{rule}")


def _length(shape: dict[str, Any], size: int, value: Any, where: str, what: str) -> None:
    low, high = shape.get("min"), shape.get("max")
    if (low is not None and size < low) or (high is not None and size > high):
        bounds = (f"between {low} and {high}" if low is not None and high is not None
                  else f"greater than or equal to {low}" if low is not None else f"less than or equal to {high}")
        raise constraint_error(value, where, f"Member must have {what} {bounds}")


def _range(shape: dict[str, Any], value: float, where: str) -> None:
    low, high = shape.get("min"), shape.get("max")
    if low is not None and value < low:
        raise constraint_error(value, where, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        raise constraint_error(value, where, f"Member must have value less than or equal to {high}")


_loaded: dict[tuple[str, ...], Shapes] = {}  # (service, *operations) → shapes
_lock = threading.Lock()


def sagemaker_shapes(operations: Iterable[str], service: str = "sagemaker") -> Shapes:
    """The input shapes of ``operations`` of SageMaker (or another botocore ``service``, e.g.
    ``application-autoscaling``), read from botocore's model once per process."""
    key = (service, *sorted(operations))
    with _lock:
        if key not in _loaded:
            path = _model_file(service)
            data = path.read_bytes()
            model = orjson.loads(gzip.decompress(data) if path.suffix == ".gz" else data)
            _loaded[key] = Shapes(model, key[1:])
        return _loaded[key]
