"""One transform job from start to end: list the input, start instances of the model (as an endpoint's,
:class:`~modelport.hosting.fleet.VariantFleet`), stream every input object through them in mini-batches
with bounded concurrency, and write one ``<input>.out`` per object in record order.

Concurrency is ``MaxConcurrentTransforms`` per instance (the request's, else the container's
``/execution-parameters``, else 1), so at most that many requests are in flight and at most as many
more batches wait read: memory stays within (2 × slots) × ``MaxPayloadInMB`` whatever the input's size.
A record the model refuses (4xx) fails the job at once; a server error, a dead worker or a timeout is
retried up to ``InvocationsMaxRetries`` times. A failing mini-batch is resent record by record to name
the record that fails, with its object and line, in the FailureReason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from modelport.hosting import instance_env, model_data
from modelport.hosting.fleet import FleetError, Instance, VariantFleet
from modelport.hosting.locations import InputObject, LocationError, OutputFile, Places
from modelport.hosting.transform.processing import RecordError
from modelport.hosting.transform.records import Batch, BatchReader, InputDamaged, RecordTooLarge
from modelport.hosting.transform.spec import DEFAULT_PAYLOAD_MB, JobSpec
from modelport.net.upstream import UpstreamError

log = logging.getLogger(__name__)

VARIANT = "transform"  # the fleet's variant name (instance log files are named after it)
NO_INSTANCE_WAIT = 0.1  # between looks for a ready instance while the fleet restarts one
NO_INSTANCE_GRACE = 30.0  # beyond the startup timeout, how long a job waits for any ready instance
_STRATEGIES = {"MULTI_RECORD": "MultiRecord", "SINGLE_RECORD": "SingleRecord"}


class JobFailed(Exception):
    """The job fails; the message is its FailureReason."""


@dataclass
class Progress:
    """What a running job has done so far (for the CLI's progress bar)."""

    objects_total: int = 0
    objects_done: int = 0
    bytes_total: int = 0
    bytes_read: int = 0
    bytes_done: int = 0  # input bytes (as stored) whose records have been transformed, about
    records_done: int = 0
    batches_done: int = 0
    phase: str = "starting"  # starting, transforming, finishing
    settings: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The progress document of ``GET /_modelport/transform-jobs/NAME``."""
        return {"Phase": self.phase, "ObjectsTotal": self.objects_total, "ObjectsDone": self.objects_done,
                "BytesTotal": self.bytes_total, "BytesRead": self.bytes_read, "BytesDone": self.bytes_done,
                "RecordsDone": self.records_done,
                "BatchesDone": self.batches_done, **self.settings}


def log_name(job: str) -> str:
    """The name ``modelport logs`` knows a job's instance logs by (``MODELPORT_HOME/logs/<it>``)."""
    return f"transform-{job}"


class _ObjectOutput:
    """The output of one input object, written in record order as answers arrive in any order."""

    def __init__(self, item: InputObject, out: OutputFile) -> None:
        self.item, self.out = item, out
        self.batches = 0  # read so far; final once ``read_all`` is set
        self.read_all = False
        self._next = 1
        self._waiting: dict[int, bytes] = {}
        self.committed = False
        self.writing = asyncio.Lock()  # writes happen in a thread, one at a time, in order

    def deliver(self, seq: int, data: bytes) -> list[bytes]:
        """Take an answer; return the answers now due, in order (the caller writes them)."""
        self._waiting[seq] = data
        due = []
        while self._next in self._waiting:
            due.append(self._waiting.pop(self._next))
            self._next += 1
        return due

    @property
    def complete(self) -> bool:
        return self.read_all and self._next > self.batches and not self.committed


class TransformRun:
    """Runs one job on ``hosting`` (its settings, logs, model data and the command that starts instances)."""

    def __init__(self, hosting: Any, spec: JobSpec, places: Places) -> None:
        self.hosting, self.spec, self.places = hosting, spec, places
        self.progress = Progress()
        self.fleet: VariantFleet | None = None
        self._outputs: list[_ObjectOutput] = []
        self._window: asyncio.Semaphore | None = None  # batches read and not yet written

    # the job
    async def run(self) -> None:
        """Transform every input object; :class:`JobFailed` with the reason when the job fails."""
        try:
            inputs = await asyncio.to_thread(self.places.list_inputs, self.spec.input_uri, self.spec.data_type)
        except LocationError as exc:
            raise JobFailed(f"ClientError: {exc}") from None
        self.progress.objects_total = len(inputs)
        self.progress.bytes_total = sum(i.size for i in inputs)
        try:
            self.fleet = await self._start_fleet()
            strategy, payload_mb, per_instance = await self._execution_parameters()
            self.progress.settings = {"BatchStrategy": strategy, "MaxPayloadInMB": payload_mb,
                                      "MaxConcurrentTransforms": per_instance,
                                      "InstanceCount": len(self.fleet.instances)}
            self.progress.phase = "transforming"
            await self._transform(inputs, strategy == "MultiRecord", payload_mb << 20,
                                  per_instance * len(self.fleet.instances))
            self.progress.phase = "finishing"
        finally:
            for output in self._outputs:
                if not output.committed:
                    await asyncio.to_thread(output.out.discard)
            if self.fleet is not None:
                await self.fleet.stop(0)

    async def _start_fleet(self) -> VariantFleet:
        hosting, spec = self.hosting, self.spec
        model = hosting.registry.get_document("models", spec.model_name)
        if model is None:
            raise JobFailed(f"ClientError: the model {spec.model_name} was deleted before the job started.")
        container = model["spec"].get("PrimaryContainer") or (model["spec"].get("Containers") or [{}])[0]
        try:
            artifact = await asyncio.to_thread(model_data.resolve, container, hosting.cache_dir, hosting.local_s3)
        except model_data.ModelDataError as exc:
            raise JobFailed(f"ClientError: {exc}") from None
        environment = {**(container.get("Environment") or {}), **spec.environment, "SAGEMAKER_BATCH": "true"}
        if spec.batch_strategy:  # set on the job: the container is told, as on SageMaker
            environment["SAGEMAKER_BATCH_STRATEGY"] = "MULTI_RECORD" if spec.batch_strategy == "MultiRecord" else "SINGLE_RECORD"
        if spec.max_payload_mb:
            environment["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(spec.max_payload_mb)
        if spec.max_concurrent:
            environment["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(spec.max_concurrent)
        variant = {"VariantName": VARIANT, "ModelName": spec.model_name, "InitialInstanceCount": spec.instance_count,
                   "Container": {**container, "Environment": environment}}
        settings = hosting.settings
        fleet = VariantFleet(
            log_name(spec.name), variant, artifact, log_dir=hosting.logs_dir / log_name(spec.name),
            command=hosting.command, workers=settings.workers, startup_timeout=settings.startup_timeout,
            invocation_timeout=spec.invocation_timeout,
            base_env=instance_env.for_container(container, hosting.home, hosting.local_s3),
            drain_timeout=0, health_interval=settings.health_interval, templates=hosting.templates)
        try:
            await fleet.start()
        except FleetError as exc:
            raise JobFailed(f"ClientError: the model's instances did not start: {exc}") from None
        return fleet

    async def _execution_parameters(self) -> tuple[str, int, int]:
        """BatchStrategy, MaxPayloadInMB and MaxConcurrentTransforms: the job's, else the container's, else defaults."""
        spec = self.spec
        answered: dict[str, Any] = {}
        if not (spec.batch_strategy and spec.max_payload_mb and spec.max_concurrent):
            try:
                response = await self.fleet.instances[0].pool.request("GET", "/execution-parameters", timeout=5.0)
                if response.status == 200:
                    answered = orjson.loads(response.body)
            except (UpstreamError, asyncio.TimeoutError, orjson.JSONDecodeError):
                answered = {}
            if not isinstance(answered, dict):
                answered = {}
        strategy = spec.batch_strategy or _STRATEGIES.get(str(answered.get("BatchStrategy")), "MultiRecord")
        payload = spec.max_payload_mb or _whole(answered.get("MaxPayloadInMB"), 1, 100) or DEFAULT_PAYLOAD_MB
        concurrent = spec.max_concurrent or _whole(answered.get("MaxConcurrentTransforms"), 1, 100) or 1
        return strategy, payload, concurrent

    async def _transform(self, inputs: list[InputObject], multi: bool, max_bytes: int, slots: int) -> None:
        queue: asyncio.Queue = asyncio.Queue(maxsize=slots)
        # answers that arrive ahead of an earlier, slower one wait in memory: bound them with the batches read
        self._window = asyncio.Semaphore(2 * slots)
        tasks = [asyncio.create_task(self._read(inputs, queue, multi, max_bytes, slots))]
        tasks += [asyncio.create_task(self._work(queue)) for _ in range(slots)]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, inputs: list[InputObject], queue: asyncio.Queue, multi: bool, max_bytes: int,
                    slots: int) -> None:
        spec, progress = self.spec, self.progress
        read_before = 0
        for item in inputs:
            try:
                out = await asyncio.to_thread(self.places.output, spec.output_path, item, spec.accept)
                raw = await asyncio.to_thread(self.places.open, item.uri)
            except LocationError as exc:
                raise JobFailed(f"ClientError: {exc}") from None
            output = _ObjectOutput(item, out)
            self._outputs.append(output)
            reader = BatchReader(raw, gzipped=spec.gzipped, split_lines=spec.split_lines, multi_record=multi,
                                 max_bytes=max_bytes)
            try:
                while True:
                    try:
                        batch = await asyncio.to_thread(reader.next)
                    except (RecordTooLarge, InputDamaged) as exc:
                        raise JobFailed(f"ClientError: {item.uri}: {exc}") from None
                    progress.bytes_read = read_before + reader.bytes_read
                    if batch is None:
                        break
                    batch.read_upto = progress.bytes_read
                    output.batches += 1
                    await self._window.acquire()
                    await queue.put((output, batch))
            finally:
                await asyncio.to_thread(reader.close)
            read_before += item.size
            progress.bytes_read = read_before
            if output.batches == 0:  # an empty object: nothing to wait for
                progress.bytes_done = max(progress.bytes_done, read_before)
            output.read_all = True
            await self._maybe_commit(output)
        for _ in range(slots):
            await queue.put(None)

    async def _work(self, queue: asyncio.Queue) -> None:
        while True:
            job = await queue.get()
            if job is None:
                return
            output, batch = job
            data = await self._transform_batch(output.item, batch)
            async with output.writing:
                due = output.deliver(batch.seq, data)
                if due:
                    await asyncio.to_thread(_write_all, output.out, due)
            for _ in due:
                self._window.release()
            self.progress.records_done += len(batch.records)
            self.progress.bytes_done = max(self.progress.bytes_done, batch.read_upto)
            self.progress.batches_done += 1
            await self._maybe_commit(output)

    async def _maybe_commit(self, output: _ObjectOutput) -> None:
        async with output.writing:  # after the last write, never beside it
            if not output.complete:
                return
            output.committed = True
            try:
                await asyncio.to_thread(output.out.commit)
            except LocationError as exc:
                raise JobFailed(f"ClientError: {exc}") from None
        self.progress.objects_done += 1

    # one request
    async def _transform_batch(self, item: InputObject, batch: Batch) -> bytes:
        dp, spec = self.spec.data_processing, self.spec
        if not dp.active:
            answer = await self._invoke(item, batch, batch.body)
            if spec.assemble_lines and not answer.endswith(b"\n"):
                answer += b"\n"
            return answer
        try:
            prepared = await asyncio.to_thread(lambda: [dp.filter_input(r) for r in batch.records])
        except (RecordError, UnicodeDecodeError) as exc:
            raise JobFailed(f"ClientError: {_where(item, batch)}: {exc}") from None
        answer = await self._invoke(item, batch, b"".join(sent for _, sent in prepared))
        outputs = [answer] if len(prepared) == 1 else answer.splitlines()
        if len(prepared) > 1 and len(outputs) != len(prepared):
            raise JobFailed(f"ClientError: {_where(item, batch)}: the model answered {len(outputs)} lines for "
                            f"{len(prepared)} records, so its output cannot be joined or filtered record by record; "
                            f"answer one line per record (e.g. Accept text/csv or application/jsonlines).")
        try:
            lines = await asyncio.to_thread(
                lambda: [dp.finish(value, out) for (value, _), out in zip(prepared, outputs)])
        except (RecordError, UnicodeDecodeError) as exc:
            raise JobFailed(f"ClientError: {_where(item, batch)}: the model's output: {exc}") from None
        return b"\n".join(lines) + (b"\n" if spec.assemble_lines else b"")

    async def _invoke(self, item: InputObject, batch: Batch, body: bytes) -> bytes:
        status, message = await self._send(body)
        if status == 200:
            return message
        where = _where(item, batch)
        if len(batch.records) > 1 and 400 <= status < 500:
            where = await self._isolate(item, batch) or f"{where} (a mini-batch; no record fails alone)"
        text = message.decode("utf-8", "replace")[:2000]
        raise JobFailed(f"AlgorithmError: the model answered {status} for {where}: {text} See `modelport logs "
                        f"{log_name(self.spec.name)}` for the instances' logs.")

    async def _isolate(self, item: InputObject, batch: Batch) -> str | None:
        """The first record of a refused mini-batch that is refused alone (named by object and line)."""
        dp = self.spec.data_processing
        for offset, record in enumerate(batch.records):
            body = dp.filter_input(record)[1] if dp.active else record
            status, _ = await self._send(body)
            if status != 200:
                if not batch.numbers:
                    return None
                return f"{item.uri} line {batch.numbers[offset]}"
        return None

    async def _send(self, body: bytes) -> tuple[int, bytes]:
        """POST one body to the least busy ready instance; (status, body), retrying what may pass next time."""
        spec = self.spec
        headers = [("Content-Type", spec.content_type or "application/octet-stream")]
        if spec.accept:
            headers.append(("Accept", spec.accept))
        attempts = 0
        while True:
            instance = await self._pick()
            instance.begin()
            try:
                response = await instance.pool.request("POST", "/invocations", headers, body,
                                                       timeout=spec.invocation_timeout)
            except UpstreamError as exc:
                if not exc.sent:
                    instance.not_sent()
                    await asyncio.sleep(NO_INSTANCE_WAIT)
                    continue
                instance.died_answering()
                status, answer = 500, f"the model server's worker died while answering ({exc})".encode()
            except asyncio.TimeoutError:
                instance.abandoned()
                status, answer = 0, f"no answer within {spec.invocation_timeout:g} s (InvocationsTimeoutInSeconds)".encode()
            except BaseException:
                instance.abandoned()
                raise
            else:
                instance.end()
                status, answer = response.status, response.body
            if 200 <= status < 300:
                return 200, answer
            if 400 <= status < 500 or attempts >= spec.max_retries:
                return status, answer
            attempts += 1

    async def _pick(self) -> Instance:
        """The least busy ready instance; fails the job when none has been ready for a start's time."""
        give_up = time.monotonic() + self.hosting.settings.startup_timeout + NO_INSTANCE_GRACE
        while True:
            ready = [i for i in self.fleet.instances if i.ready]
            if ready:
                return min(ready, key=lambda i: i.outstanding)
            if time.monotonic() > give_up:
                raise JobFailed(f"AlgorithmError: no instance of the model has been ready for "
                                f"{self.hosting.settings.startup_timeout + NO_INSTANCE_GRACE:g} s (they crash or do not "
                                f"pass /ping: {self.fleet.unhealthy}).")
            await asyncio.sleep(NO_INSTANCE_WAIT)


def _write_all(out: OutputFile, chunks: list[bytes]) -> None:
    for chunk in chunks:
        out.write(chunk)


def _whole(value: Any, low: int, high: int) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high else None


def _where(item: InputObject, batch: Batch) -> str:
    if not batch.first_line:
        return f"{item.uri} (the whole object)"
    if batch.first_line == batch.last_line:
        return f"{item.uri} line {batch.first_line}"
    return f"{item.uri} lines {batch.first_line}-{batch.last_line}"
