"""Where data of hosting's jobs lives (batch transform, data capture, async inference): input objects (an
``S3Prefix``, a manifest, one object) and ``.out`` files.

``s3://`` is hosting's own object store; ``file://`` (or a plain path) must lie under the allowed model
roots, as a ``ModelDataUrl`` (:func:`modelport.hosting.model_data.check_allowed`). Input objects are
opened as streams; an output is written to a temporary file as records arrive and put in place (an S3
object, or a file renamed into place) only once its whole input object succeeded.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from modelport import store
from modelport.hosting import model_data
from modelport.objectstore import ObjectStore, ObjectStoreError

MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_INPUT_OBJECTS = 100_000  # objects of one job (a listing beyond this is refused, not truncated)
OUTPUT_SUFFIX = ".out"
_PARTIAL = re.compile(r"\..+\.out\.[0-9a-f]{8}\.part")  # a local output being written (OutputFile)


class LocationError(Exception):
    """Input or output data cannot be used; the message names the location and says why."""


@dataclass(frozen=True)
class InputObject:
    """One input object: its URI, the name its output is derived from, and its size in bytes."""

    uri: str
    relative: str
    size: int


@dataclass
class Places:
    """What a job may touch: hosting's object store (None when S3 is another server) and the local roots."""

    objects: ObjectStore | None
    roots: list[Path]

    def check(self, uri: str, what: str) -> store.ParsedUri:
        """``uri`` parsed, if a job may use it (``s3://`` needs hosting's own store)."""
        try:
            parsed = store.parse_uri(uri)
        except store.StoreError as exc:
            raise LocationError(f"{what} {uri}: {exc}") from None
        try:
            model_data.check_allowed(uri, self.roots, what=what)
        except model_data.ModelDataError:
            listed = ", ".join(str(root) for root in self.roots)
            raise LocationError(
                f"{what} {uri} is outside the folders modelport hosting lets jobs read and write: {listed} and s3:// "
                f"(hosting's S3). Put the data in one of them (e.g. `aws s3 cp --recursive` after `eval \"$(modelport "
                f"env)\"`), or add its folder to MODELPORT_MODEL_ROOTS (colon-separated, like PATH) and restart "
                f"hosting.") from None
        if parsed.scheme == "s3" and self.objects is None:
            raise LocationError(f"{what} {uri}: hosting's jobs read and write s3:// through hosting's own S3 store, "
                                f"but hosting was started with AWS_ENDPOINT_URL_S3 naming another S3 server.")
        return parsed

    def check_bucket(self, parsed: store.ParsedUri, uri: str, what: str) -> None:
        """An ``s3://`` location's bucket exists (SageMaker fails such a job; here it is refused at once)."""
        if parsed.scheme != "s3":
            return
        try:
            self.objects.bucket(parsed.bucket)
        except ObjectStoreError:
            raise LocationError(f"{what} {uri}: the bucket {parsed.bucket} does not exist in hosting's S3.") from None

    # inputs
    def list_inputs(self, uri: str, data_type: str) -> list[InputObject]:
        """The input objects of an ``S3Prefix`` or a ``ManifestFile``, in name (or manifest) order."""
        if data_type == "ManifestFile":
            return self._manifest(uri)
        parsed = self.check(uri, "TransformInput.DataSource.S3DataSource.S3Uri")
        found = self._list_s3(parsed) if parsed.scheme == "s3" else self._list_files(parsed.path)
        if not found:
            raise LocationError(f"No input objects found under {uri}.")
        return found

    def _list_s3(self, parsed: store.ParsedUri) -> list[InputObject]:
        base = parsed.key[: parsed.key.rfind("/") + 1]
        out: list[InputObject] = []
        after = ""
        while True:
            try:
                page = self.objects.list_objects(parsed.bucket, parsed.key, after=after, max_keys=1000)
            except ObjectStoreError as exc:
                raise LocationError(f"cannot list s3://{parsed.bucket}/{parsed.key}: {exc.message}") from None
            for info in page.objects:
                if info.key.endswith("/"):
                    continue  # a folder marker
                out.append(InputObject(f"s3://{parsed.bucket}/{info.key}", info.key[len(base):], info.size))
                if len(out) > MAX_INPUT_OBJECTS:
                    raise LocationError(f"more than {MAX_INPUT_OBJECTS} input objects under "
                                        f"s3://{parsed.bucket}/{parsed.key}; split the job.")
            if not page.truncated:
                return out
            after = page.last

    def _list_files(self, prefix: Path) -> list[InputObject]:
        text = str(prefix)
        base = prefix if prefix.is_dir() else prefix.parent
        candidates = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []
        out = []
        for path in candidates:
            if not (str(path).startswith(text) or prefix.is_dir()):
                continue
            real = Path(os.path.realpath(path))
            if not any(real.is_relative_to(root) for root in self.roots):
                continue  # a link out of the allowed folders is not data of this job
            out.append(InputObject(f"file://{path}", str(path.relative_to(base)), path.stat().st_size))
            if len(out) > MAX_INPUT_OBJECTS:
                raise LocationError(f"more than {MAX_INPUT_OBJECTS} input files under {prefix}; split the job.")
        return out

    def _manifest(self, uri: str) -> list[InputObject]:
        what = "TransformInput.DataSource.S3DataSource.S3Uri (a manifest)"
        parsed = self.check(uri, what)
        with self.open(uri) as handle:
            data = handle.read(MAX_MANIFEST_BYTES + 1)
        if len(data) > MAX_MANIFEST_BYTES:
            raise LocationError(f"the manifest {uri} is larger than {MAX_MANIFEST_BYTES} bytes.")
        try:
            entries = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise LocationError(f"the manifest {uri} is not JSON ({exc}); expected "
                                f'[{{"prefix": "s3://bucket/folder/"}}, "file1", "file2", ...].') from None
        if (not isinstance(entries, list) or not entries or not isinstance(entries[0], dict)
                or not isinstance(entries[0].get("prefix"), str)
                or not all(isinstance(e, str) and e for e in entries[1:])):
            raise LocationError(f'the manifest {uri} must be [{{"prefix": "s3://bucket/folder/"}}, "file1", ...] '
                                f"(a prefix object, then relative names).")
        if len(entries) - 1 > MAX_INPUT_OBJECTS:
            raise LocationError(f"the manifest {uri} lists more than {MAX_INPUT_OBJECTS} objects; split the job.")
        prefix = entries[0]["prefix"]
        del parsed
        out = []
        for entry in entries[1:]:
            target = prefix + entry
            where = self.check(target, f"the manifest entry {entry!r} ({target})")
            out.append(InputObject(target, entry, self._size(where, target)))
        if not out:
            raise LocationError(f"the manifest {uri} lists no objects.")
        return out

    def size(self, uri: str, what: str) -> int:
        """The size of one input object that a job may read (:class:`LocationError` when it may not, or is missing)."""
        return self._size(self.check(uri, what), uri)

    def _size(self, parsed: store.ParsedUri, uri: str) -> int:
        try:
            if parsed.scheme == "s3":
                return self.objects.head_object(parsed.bucket, parsed.key).size
            return parsed.path.stat().st_size
        except (ObjectStoreError, OSError):
            raise LocationError(f"the input object {uri} does not exist.") from None

    def modified(self, uri: str) -> float | None:
        """When the object at ``uri`` was last written (epoch seconds), or None when there is none."""
        parsed = store.parse_uri(uri)
        try:
            if parsed.scheme == "s3":
                return self.objects.head_object(parsed.bucket, parsed.key).modified
            return parsed.path.stat().st_mtime
        except (ObjectStoreError, OSError):
            return None

    def writer(self, uri: str, what: str, content_type: str | None) -> "OutputFile":
        """An output object at exactly ``uri``, put in place by its :meth:`OutputFile.commit`."""
        return OutputFile(self, uri, self.check(uri, what), content_type)

    def open(self, uri: str) -> BinaryIO:
        """An input object opened for reading (raw bytes, as stored)."""
        parsed = store.parse_uri(uri)
        try:
            if parsed.scheme == "s3":
                return self.objects.open_object(parsed.bucket, parsed.key)[1]
            return parsed.path.open("rb")
        except (ObjectStoreError, OSError) as exc:
            raise LocationError(f"cannot read the input object {uri}: {getattr(exc, 'message', exc)}") from None

    # outputs
    def remove_partial_outputs(self, output_path: str) -> int:
        """Remove the temporary files of local outputs a job left when hosting died (S3 ones are removed by the
        object store itself); how many."""
        try:
            parsed = self.check(output_path, "TransformOutput.S3OutputPath")
        except LocationError:
            return 0
        if parsed.scheme != "file" or not parsed.path.is_dir():
            return 0
        removed = 0
        for path in parsed.path.rglob(".*.part"):
            if _PARTIAL.fullmatch(path.name) and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def output(self, output_path: str, item: InputObject, content_type: str | None) -> "OutputFile":
        """Where the output of ``item`` goes: ``<S3OutputPath>/<relative name>.out``."""
        target = output_path.rstrip("/") + "/" + item.relative + OUTPUT_SUFFIX
        parsed = self.check(target, "TransformOutput.S3OutputPath")
        return OutputFile(self, target, parsed, content_type)


class OutputFile:
    """One ``.out`` being written: a temporary file until :meth:`commit` puts it in place."""

    def __init__(self, places: Places, uri: str, parsed: store.ParsedUri, content_type: str | None) -> None:
        self.uri, self.parsed, self.content_type = uri, parsed, content_type
        self.objects = places.objects
        self.size = 0
        if parsed.scheme == "s3":
            self._body = self.objects.new_body()
            self._file = None
        else:
            parsed.path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = parsed.path.with_name(f".{parsed.path.name}.{uuid.uuid4().hex[:8]}.part")  # see _PARTIAL
            self._file = self._tmp.open("xb")
            self._body = None

    def write(self, data: bytes) -> None:
        """Append output bytes."""
        self.size += len(data)
        (self._body or self._file).write(data)

    def commit(self) -> None:
        """Put the finished output in place (replacing an older one)."""
        if self._body is not None:
            headers = {"content-type": self.content_type} if self.content_type else {}
            try:
                self.objects.put_object(self.parsed.bucket, self.parsed.key, self._body, headers, {})
            except ObjectStoreError as exc:
                self._body.discard()
                raise LocationError(f"cannot write {self.uri}: {exc.message}") from None
            return
        self._file.close()
        os.replace(self._tmp, self.parsed.path)

    def discard(self) -> None:
        """Drop a partial output (its input object did not finish)."""
        if self._body is not None:
            self._body.discard()
            return
        self._file.close()
        self._tmp.unlink(missing_ok=True)
