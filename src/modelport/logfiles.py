"""Log files that rotate by size, fed from a child process's output: instance logs in hosting, and
``hosting.log`` / ``gateway.log`` of ``modelport up``.

A child writes to a pipe; a thread of the parent copies the pipe into a :class:`RotatingLog`
(``NAME.log``, then ``NAME.log.1`` … ``NAME.log.N``, the oldest dropped), so a chatty model or a
busy access log cannot fill the disk. A file rotates at the end of a line (output arrives in pieces
that need not end at one), so a line is split across two files only when it is longer than 64 KiB.
Writing never raises: when the disk is full the bytes are
dropped and the log says how many once it can write again. The pipe is read as fast as it fills,
so a child never blocks on its own output.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from modelport.settings import ModelportSettings

_READ_SIZE = 65536
# How far past its size a file may grow to finish the line in progress before it rotates: a line is split
# across two files only when it is longer than this.
_LINE_SLACK = 65536


class LogSettings(ModelportSettings):
    """How large a log file grows before it rotates, and how many rotated files are kept."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_LOG_")

    max_mb: float = Field(default=10.0, gt=0, description="MODELPORT_LOG_MAX_MB: size of one log file before it rotates.")
    backups: int = Field(default=3, ge=0, description="MODELPORT_LOG_BACKUPS: rotated files kept beside the current one.")

    @property
    def max_bytes(self) -> int:
        """The rotation size in bytes."""
        return int(self.max_mb * 1024 * 1024)


class RotatingLog:
    """An append-only log file that rotates when it would grow past ``max_bytes`` (thread-safe)."""

    def __init__(self, path: Path, max_bytes: int | None = None, backups: int | None = None) -> None:
        settings = LogSettings() if max_bytes is None or backups is None else None
        self.path = Path(path)
        self.max_bytes = max_bytes if max_bytes is not None else settings.max_bytes
        self.backups = backups if backups is not None else settings.backups
        self._lock = threading.Lock()
        self._file = None
        self._size = 0
        self._lost = 0
        self._why_lost = ""
        self._line_done = True  # the file ends with a newline (or is empty)

    def write(self, data: bytes) -> None:
        """Append ``data``, rotating first when it would not fit (after the line in progress, when it ends
        within ``_LINE_SLACK`` bytes: output comes in pieces that need not end at a line); never raises."""
        with self._lock:
            try:
                if self._file is None:
                    self._open()
                if self._size and self._size + len(data) > self.max_bytes:
                    data = self._end_line(data)
                    if not data:
                        return
                    self._rotate()
                if self._lost:
                    note = f"=== {_stamp()} modelport: {self._lost} bytes of output were lost ({self._why_lost})\n"
                    self._append(note.encode())
                    self._lost = 0
                self._append(data)
            except OSError as exc:  # a full disk, an I/O error: drop the bytes, never the process
                self._lost += len(data)
                self._why_lost = exc.strerror or str(exc)
                self._drop_file()

    def note(self, message: str) -> None:
        """Append one ``=== time modelport hosting: message`` line."""
        self.write(f"=== {_stamp()} {message}\n".encode())

    def close(self) -> None:
        """Close the current file (a later write reopens it)."""
        with self._lock:
            self._drop_file()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab", buffering=0)
        self._size = self._file.seek(0, os.SEEK_END)
        self._line_done = True  # a file opened again after an error starts its own line

    def _end_line(self, data: bytes) -> bytes:
        """Append to the current file the part of ``data`` that finishes its unfinished line (all of ``data``
        while the line goes on), unless that passes the slack; return what is left for the next file."""
        if self._line_done:
            return data
        end = data.find(b"\n") + 1 or len(data)
        if self._size + end > self.max_bytes + _LINE_SLACK:
            return data
        self._append(data[:end])
        return data[end:]

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            self._size += written
            view = view[written:]
        if data:
            self._line_done = data[-1:] == b"\n"

    def _rotate(self) -> None:
        self._drop_file()
        if self.backups > 0:
            for n in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{n}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._open()

    def _drop_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None


def pump(read_fd: int, log: RotatingLog, name: str = "log-pump") -> threading.Thread:
    """Copy everything written to the pipe ``read_fd`` into ``log`` until every writer closed it
    (then close ``read_fd``), in a daemon thread that is returned."""

    def copy() -> None:
        try:
            while True:
                try:
                    chunk = os.read(read_fd, _READ_SIZE)
                except InterruptedError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                log.write(chunk)
        finally:
            os.close(read_fd)

    thread = threading.Thread(target=copy, name=name, daemon=True)
    thread.start()
    return thread


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")
