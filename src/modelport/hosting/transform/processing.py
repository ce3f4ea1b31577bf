"""``DataProcessing`` on records: the input filter before the model, the join with the input and the
output filter after it, as SageMaker batch transform does.

Records are decoded by content type: ``text/csv`` as one row (a list of strings, written back with the
csv module), ``application/json`` / ``application/jsonlines`` as JSON. Joining (``JoinSource: Input``)
appends the output to a CSV row, adds it as ``SageMakerOutput`` to a JSON object, or wraps anything else
as ``{"SageMakerInput": …, "SageMakerOutput": …}``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import orjson

from modelport.hosting.transform.jsonpath import JsonPath, NoMatch

CSV = "text/csv"
JSON_TYPES = ("application/json", "application/jsonlines", "application/x-jsonlines")
JOINABLE = (CSV, *JSON_TYPES)


class RecordError(ValueError):
    """A record could not be decoded, filtered or joined; the message says why."""


def media_type(content_type: str | None) -> str:
    """The bare media type, lower-cased (``text/csv; charset=utf-8`` → ``text/csv``)."""
    return (content_type or "").split(";")[0].strip().lower()


def is_csv(content_type: str | None) -> bool:
    """Whether records of this type are CSV rows."""
    return media_type(content_type) == CSV


def is_json(content_type: str | None) -> bool:
    """Whether records of this type are JSON documents."""
    return media_type(content_type) in JSON_TYPES


def decode(record: bytes, content_type: str | None) -> Any:
    """A record as a value the filters select from."""
    text = record.decode("utf-8", "strict").rstrip("\r\n")
    if is_csv(content_type):
        rows = list(csv.reader([text]))
        return rows[0] if rows else []
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not valid JSON: {exc}") from None


def encode(value: Any, content_type: str | None) -> bytes:
    """A filtered or joined value as one record, without its line ending."""
    if is_csv(content_type):
        row = value if isinstance(value, list) else [value]
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow([_csv_cell(v) for v in row])
        return out.getvalue().encode()
    return orjson.dumps(value)


def _csv_cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return "" if value is None else str(value)


def join(input_value: Any, output_value: Any, content_type: str | None) -> Any:
    """The input record with the model's output for it, as SageMaker joins them."""
    if is_csv(content_type):
        left = input_value if isinstance(input_value, list) else [input_value]
        right = output_value if isinstance(output_value, list) else [output_value]
        return left + right
    if isinstance(input_value, dict):
        return {**input_value, "SageMakerOutput": output_value}
    return {"SageMakerInput": input_value, "SageMakerOutput": output_value}


@dataclass(frozen=True)
class DataProcessing:
    """The job's filters and join, with the content types they read and write."""

    input_filter: JsonPath
    output_filter: JsonPath
    join_input: bool
    content_type: str | None
    accept: str | None

    @property
    def active(self) -> bool:
        """Whether records need decoding at all (else bytes pass through untouched)."""
        return self.join_input or not self.input_filter.is_identity or not self.output_filter.is_identity

    def filter_input(self, record: bytes) -> tuple[Any, bytes]:
        """The decoded input record (kept for the join) and what is sent to the model for it."""
        if self.input_filter.is_identity and not self.join_input:
            return None, record
        value = decode(record, self.content_type)
        if self.input_filter.is_identity:
            return value, record
        try:
            selected = self.input_filter.apply(value)
        except NoMatch as exc:
            raise RecordError(f"InputFilter {self.input_filter.text} selects nothing: {exc}") from None
        return value, encode(selected, self.content_type) + b"\n"

    def finish(self, input_value: Any, output: bytes) -> bytes:
        """The output record written for one input record (joined and filtered), without a line ending."""
        if not self.join_input and self.output_filter.is_identity:
            return output.rstrip(b"\r\n")
        value = decode(output, self.accept)
        if self.join_input:
            value = join(input_value, value, self.accept)
        try:
            value = self.output_filter.apply(value)
        except NoMatch as exc:
            raise RecordError(f"OutputFilter {self.output_filter.text} selects nothing: {exc}") from None
        return encode(value, self.accept)
