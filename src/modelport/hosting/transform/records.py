"""Split one input object into the requests a job sends: ``SplitType`` (None: the whole object; Line),
``CompressionType`` Gzip (decompressed as it is read), ``BatchStrategy`` SingleRecord or MultiRecord
(as many whole records as fit in ``MaxPayloadInMB``; a mini-batch never spans objects).

The object is read as a stream: at most one request's worth of records is held at a time, and a line
is read with a bound, so a huge line or a gzip bomb costs no more memory than the payload limit.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

READ_BUFFER = 1 << 20


class RecordTooLarge(Exception):
    """A record is larger than ``MaxPayloadInMB``; the message names where it starts."""


class InputDamaged(Exception):
    """The object could not be read as declared (e.g. ``Gzip`` that is not gzip)."""


@dataclass
class Batch:
    """One request: its body, the records in it (for ``DataProcessing`` and for naming a failure) and the
    lines they came from (1-based; 0 when the object is not split)."""

    seq: int
    body: bytes
    records: list[bytes] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)  # each record's line
    read_upto: int = 0  # bytes of the job's input read once this batch was (set by the runner, for progress)

    @property
    def first_line(self) -> int:
        return self.numbers[0] if self.numbers else 0

    @property
    def last_line(self) -> int:
        return self.numbers[-1] if self.numbers else 0


class BatchReader:
    """Reads ``Batch`` after ``Batch`` from one object; call :meth:`next` until it returns None."""

    def __init__(self, raw: BinaryIO, *, gzipped: bool, split_lines: bool, multi_record: bool,
                 max_bytes: int) -> None:
        self._raw = raw
        stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        self._stream = io.BufferedReader(stream, READ_BUFFER) if gzipped else stream
        self.split_lines, self.multi_record, self.max_bytes = split_lines, multi_record, max_bytes
        self._line = 0
        self._seq = 0
        self._held: tuple[int, bytes] | None = None  # a line read that did not fit the previous batch
        self._done = False

    @property
    def bytes_read(self) -> int:
        """Bytes of the stored object read so far (compressed bytes for a gzip object)."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        """Close the object."""
        self._raw.close()

    def next(self) -> Batch | None:
        """The next request's records, or None at the end of the object."""
        try:
            return self._next()
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InputDamaged(f"the object cannot be read{' as gzip' if isinstance(self._stream, io.BufferedReader) else ''}: {exc}") from None

    def _next(self) -> Batch | None:
        if self._done:
            return None
        if not self.split_lines:
            self._done = True
            body = self._stream.read(self.max_bytes + 1)
            if len(body) > self.max_bytes:
                raise RecordTooLarge(f"the object is larger than MaxPayloadInMB ({self.max_bytes / 2**20:g} MB) and "
                                     f"SplitType is None; split it with SplitType Line or raise MaxPayloadInMB.")
            return self._batch(body, [body], []) if body else None
        records: list[bytes] = []
        numbers: list[int] = []
        size = 0
        while True:
            held = self._held or self._read_line()
            self._held = None
            if held is None:
                self._done = True
                break
            number, line = held
            if size + len(line) > self.max_bytes and records:
                self._held = held
                break
            records.append(line)
            numbers.append(number)
            size += len(line)
            if not self.multi_record:
                break
        if not records:
            return None
        return self._batch(b"".join(records), records, numbers)

    def _read_line(self) -> tuple[int, bytes] | None:
        """The next non-blank line (ending in a newline), with its number; None at the end."""
        while True:
            line = self._stream.readline(self.max_bytes + 1)
            if not line:
                return None
            self._line += 1
            if len(line) > self.max_bytes:  # readline stopped at the bound: the line goes on
                raise RecordTooLarge(f"line {self._line} is larger than MaxPayloadInMB ({self.max_bytes / 2**20:g} MB).")
            if not line.strip():
                continue
            if not line.endswith(b"\n"):
                line += b"\n"
            return self._line, line

    def _batch(self, body: bytes, records: list[bytes], numbers: list[int]) -> Batch:
        self._seq += 1
        return Batch(self._seq, body, records, numbers)
