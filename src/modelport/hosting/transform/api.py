"""Batch transform's control-plane operations: ``CreateTransformJob``, ``DescribeTransformJob``,
``ListTransformJobs``, ``StopTransformJob`` (mixed into :class:`~modelport.hosting.control_api.ControlApi`,
whose dispatcher finds every ``op_<Operation>`` and has checked the request against SageMaker's input
shapes before these run)."""

from __future__ import annotations

import asyncio
from typing import Any

from modelport.hosting import validation as check
from modelport.hosting.errors import resource_limit, validation
from modelport.hosting.paging import page
from modelport.hosting.transform import jobs as job_states
from modelport.hosting.locations import LocationError
from modelport.hosting.transform.spec import checked

_KIND = "transform-job"


class TransformJobApi:
    """The transform-job operations; needs ``hosting``, ``registry``, ``settings``, ``_arn`` and ``_tag``."""

    hosting: Any
    settings: Any

    def _job(self, name: str) -> dict[str, Any]:
        row = self.hosting.transforms.store.get(name)
        if row is None:
            raise validation(f'Could not find requested job with name {name}.')
        return row

    async def op_CreateTransformJob(self, params: dict[str, Any]) -> dict[str, Any]:
        spec = checked(params, self.settings.max_instances_per_variant, self.settings.max_model_workers)
        if self.registry.get_document("models", spec.model_name) is None:
            raise validation(f'Could not find model "{self._arn("model", spec.model_name)}".')
        jobs = self.hosting.transforms
        arn = self._arn(_KIND, spec.name)
        if jobs.store.get(spec.name) is not None:
            raise validation(f"Job name must be unique within an AWS account and region, and a job with this name "
                             f"already exists ({arn}).")
        in_use = jobs.instances_in_use()
        if in_use + spec.instance_count > self.settings.max_instances:
            raise resource_limit(f"The running transform jobs use {in_use} instances; this one asks for "
                                 f"{spec.instance_count} more, and modelport hosting runs at most "
                                 f"{self.settings.max_instances} (MODELPORT_HOSTING_MAX_INSTANCES). Wait for a job to "
                                 f"finish, or stop one.")
        places = jobs.places()
        try:
            await asyncio.to_thread(_check_locations, places, params)
        except LocationError as exc:
            raise validation(str(exc)) from None
        request = {k: v for k, v in params.items() if k not in ("TransformJobName", "Tags")}
        if jobs.start(spec, arn, request) is None:
            raise validation(f"Job name must be unique within an AWS account and region, and a job with this name "
                             f"already exists ({arn}).")
        self._tag(arn, params.get("Tags"))
        return {"TransformJobArn": arn}

    def op_DescribeTransformJob(self, params: dict[str, Any]) -> dict[str, Any]:
        row = self._job(check.require(params, "TransformJobName"))
        spec = row["spec"]
        out: dict[str, Any] = {"TransformJobName": row["name"], "TransformJobArn": row["arn"],
                               "TransformJobStatus": row["status"], **spec, "CreationTime": row["created"]}
        if row["failure_reason"]:
            out["FailureReason"] = row["failure_reason"]
        if row["started"]:
            out["TransformStartTime"] = row["started"]
        if row["ended"]:
            out["TransformEndTime"] = row["ended"]
        return out

    def op_ListTransformJobs(self, params: dict[str, Any]) -> dict[str, Any]:
        rows = self.hosting.transforms.store.list()
        status = params.get("StatusEquals")
        before, after = params.get("LastModifiedTimeBefore"), params.get("LastModifiedTimeAfter")
        items = []
        for r in rows:
            if (status and r["status"] != status or before is not None and r["modified"] >= float(before)
                    or after is not None and r["modified"] <= float(after)):
                continue
            item = {"TransformJobName": r["name"], "TransformJobArn": r["arn"], "CreationTime": r["created"],
                    "LastModifiedTime": r["modified"], "TransformJobStatus": r["status"]}
            if r["ended"]:
                item["TransformEndTime"] = r["ended"]
            if r["failure_reason"]:
                item["FailureReason"] = r["failure_reason"]
            items.append(item)
        return page(params, items, "TransformJobSummaries", "TransformJobName", status_key="TransformJobStatus")

    def op_StopTransformJob(self, params: dict[str, Any]) -> dict[str, Any]:
        name = check.require(params, "TransformJobName")
        row = self._job(name)
        if row["status"] == job_states.STOPPING:
            return {}
        if row["status"] != job_states.IN_PROGRESS:
            raise validation(f"The transform job {name} is {row['status']} and can no longer be stopped.")
        self.hosting.transforms.stop(name)
        return {}


def _check_locations(places, params: dict[str, Any]) -> None:
    """The input and output locations are allowed, and their buckets exist (hosting's S3)."""
    source = params["TransformInput"]["DataSource"]["S3DataSource"]
    uri = source["S3Uri"]
    what = "TransformInput.DataSource.S3DataSource.S3Uri"
    places.check_bucket(places.check(uri, what), uri, what)
    output = params["TransformOutput"]["S3OutputPath"]
    what = "TransformOutput.S3OutputPath"
    places.check_bucket(places.check(output, what), output, what)
