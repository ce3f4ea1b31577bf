"""The transform jobs of one hosting process: start, stop, progress, and what a restart does.

A restart never leaves a job InProgress: a job that was running when hosting stopped (cleanly or by
kill -9) ends Failed with a reason saying so, and a job that was Stopping ends Stopped. Jobs are not
resumed, as on SageMaker (a job there does not survive its instances either): its outputs of input
objects that finished are in place, the others were never written; create a new job to run it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from modelport.hosting import model_data
from modelport.hosting.transform.jobstore import TransformJobStore
from modelport.hosting.locations import Places
from modelport.hosting.transform.runner import JobFailed, TransformRun
from modelport.hosting.transform.spec import JobSpec

log = logging.getLogger(__name__)

IN_PROGRESS, COMPLETED, FAILED, STOPPING, STOPPED = "InProgress", "Completed", "Failed", "Stopping", "Stopped"
KEEP_FINISHED = 256  # finished jobs whose last progress is kept in memory (for a client's summary)
INTERRUPTED = ("The job was interrupted: modelport hosting stopped while it ran (outputs of input objects that "
               "had finished were written, the others were not). Create a new job to run it again.")


class TransformJobs:
    """Transform jobs kept in hosting's registry database and run as tasks on hosting's loop."""

    def __init__(self, hosting: Any) -> None:
        self.hosting = hosting
        self.store = TransformJobStore(hosting.registry.path)
        self.runs: dict[str, TransformRun] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._stop_requested: set[str] = set()
        self._finished: OrderedDict[str, dict[str, Any]] = OrderedDict()  # last progress of finished jobs

    def places(self) -> Places:
        """Where jobs may read and write now: hosting's S3 store (unless S3 is another server) and the roots."""
        local_s3 = self.hosting.local_s3
        roots = model_data.allowed_roots(self.hosting.home, self.hosting.settings.model_roots)
        return Places(local_s3.active() if local_s3 is not None else None, roots)

    def instances_in_use(self) -> int:
        """Instances the running jobs asked for."""
        return sum(run.spec.instance_count for run in self.runs.values())

    def start(self, spec: JobSpec, arn: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """Register the job (InProgress) and run it in the background; None when the name is taken."""
        row = self.store.add(spec.name, arn, IN_PROGRESS, request)
        if row is None:
            return None
        self.store.settle(spec.name, started=time.time())
        run = self.runs[spec.name] = TransformRun(self.hosting, spec, self.places())
        self._tasks[spec.name] = asyncio.create_task(self._guarded(spec.name, run))
        return row

    async def _guarded(self, name: str, run: TransformRun) -> None:
        try:
            await run.run()
        except JobFailed as exc:
            log.warning("transform job %s failed: %s", name, exc)
            self.store.settle(name, status=FAILED, failure_reason=str(exc), ended=time.time())
        except asyncio.CancelledError:
            if name in self._stop_requested:
                self.store.settle(name, status=STOPPED, ended=time.time())
            else:
                self.store.settle(name, status=FAILED, failure_reason=INTERRUPTED, ended=time.time())
        except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen fault: the job says so, hosting goes on
            log.exception("transform job %s: unexpected error", name)
            self.store.settle(name, status=FAILED, ended=time.time(),
                              failure_reason=f"InternalServerError: modelport hosting failed while running the job: "
                                             f"{exc!r}. See its log.")
        else:
            self.store.settle(name, status=COMPLETED, ended=time.time())
        finally:
            self._finished[name] = {**run.progress.as_json(), "Phase": "done"}
            while len(self._finished) > KEEP_FINISHED:
                self._finished.popitem(last=False)
            self.runs.pop(name, None)
            self._tasks.pop(name, None)
            self._stop_requested.discard(name)

    def stop(self, name: str) -> None:
        """StopTransformJob: Stopping now, Stopped once its instances are gone."""
        task = self._tasks.get(name)
        self.store.settle(name, status=STOPPING)
        self._stop_requested.add(name)
        if task is not None:
            task.cancel()
        else:  # nothing runs it (it was interrupted): it is stopped already
            self.store.settle(name, status=STOPPED, ended=time.time())

    def progress(self, name: str) -> dict[str, Any] | None:
        """A job's progress (its last, for a job that finished since hosting started), or None."""
        run = self.runs.get(name)
        return run.progress.as_json() if run is not None else self._finished.get(name)

    def restore(self) -> None:
        """At start: jobs a previous hosting left InProgress fail with a reason; Stopping ones are Stopped."""
        places = self.places()
        for name in self.store.interrupted(INTERRUPTED):
            log.warning("transform job %s was interrupted by a restart of hosting", name)
            row = self.store.get(name)
            places.remove_partial_outputs(row["spec"]["TransformOutput"]["S3OutputPath"])

    async def shutdown(self) -> None:
        """Cancel the running jobs (each ends Failed with the reason, its instances stopped)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.store.close()
