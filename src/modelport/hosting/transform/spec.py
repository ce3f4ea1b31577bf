"""A CreateTransformJob request checked as SageMaker checks it (beyond the input shapes, which
:mod:`..input_shapes` already enforced) and turned into what the runner needs: :class:`JobSpec`.

modelport supports ``SplitType`` None and Line (not RecordIO / TFRecord) and ``S3DataType`` S3Prefix and
ManifestFile; anything else is a ValidationException saying so, never a job that fails later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelport.hosting import validation as check
from modelport.hosting.errors import validation
from modelport.hosting.transform import processing
from modelport.hosting.transform.jsonpath import JsonPathError, parse

MAX_PAYLOAD_MB = 100  # SageMaker's bound on MaxPayloadInMB, and on MaxConcurrentTransforms × MaxPayloadInMB
MAX_CONCURRENT_TRANSFORMS = 100  # modelport's cap per instance (SageMaker bounds it by the product above)
DEFAULT_PAYLOAD_MB = 6
DEFAULT_INVOCATION_TIMEOUT = 600  # ModelClientConfig.InvocationsTimeoutInSeconds
DEFAULT_MAX_RETRIES = 3  # ModelClientConfig.InvocationsMaxRetries
MAX_ENVIRONMENT = 16
SPLIT_TYPES = ("None", "Line")
DATA_TYPES = ("S3Prefix", "ManifestFile")


@dataclass(frozen=True)
class JobSpec:
    """What a transform job does, with SageMaker's defaults filled in where the request was silent
    (``None``: ask the container's ``/execution-parameters``, then use SageMaker's default)."""

    name: str
    model_name: str
    input_uri: str
    data_type: str
    content_type: str | None
    split_lines: bool
    gzipped: bool
    output_path: str
    accept: str | None
    assemble_lines: bool
    instance_count: int
    instance_type: str
    environment: dict[str, str]
    batch_strategy: str | None
    max_payload_mb: int | None
    max_concurrent: int | None
    invocation_timeout: float
    max_retries: int
    data_processing: processing.DataProcessing

    @classmethod
    def from_stored(cls, name: str, request: dict[str, Any]) -> "JobSpec":
        """Build the spec from a stored (already checked) request."""
        source = request["TransformInput"]["DataSource"]["S3DataSource"]
        tin, tout = request["TransformInput"], request["TransformOutput"]
        dp = request.get("DataProcessing") or {}
        client = request.get("ModelClientConfig") or {}
        return cls(
            name=name, model_name=request["ModelName"], input_uri=source["S3Uri"], data_type=source["S3DataType"],
            content_type=tin.get("ContentType"), split_lines=tin.get("SplitType", "None") == "Line",
            gzipped=tin.get("CompressionType", "None") == "Gzip", output_path=tout["S3OutputPath"],
            accept=tout.get("Accept"), assemble_lines=tout.get("AssembleWith", "None") == "Line",
            instance_count=int(request["TransformResources"]["InstanceCount"]),
            instance_type=request["TransformResources"]["InstanceType"],
            environment=dict(request.get("Environment") or {}),
            batch_strategy=request.get("BatchStrategy"),
            max_payload_mb=request.get("MaxPayloadInMB") or None,  # 0 (chunked) is served as the default
            max_concurrent=request.get("MaxConcurrentTransforms") or None,
            invocation_timeout=float(client.get("InvocationsTimeoutInSeconds", DEFAULT_INVOCATION_TIMEOUT)),
            max_retries=int(client.get("InvocationsMaxRetries", DEFAULT_MAX_RETRIES)),
            data_processing=processing.DataProcessing(
                parse(dp.get("InputFilter")), parse(dp.get("OutputFilter")), dp.get("JoinSource") == "Input",
                tin.get("ContentType"), tout.get("Accept")),
        )


def checked(params: dict[str, Any], max_instances: int, max_model_workers: int) -> JobSpec:
    """The job of a CreateTransformJob request; ValidationException for what SageMaker (or modelport) refuses."""
    name = check.name(params, "TransformJobName")
    check.name(params, "ModelName")
    check.tags(params.get("Tags"))
    tin = check.require(params, "TransformInput")
    source = tin["DataSource"]["S3DataSource"]
    if source["S3DataType"] not in DATA_TYPES:
        raise validation(f"S3DataType {source['S3DataType']} is not supported by modelport's batch transform; "
                         f"use one of: {', '.join(DATA_TYPES)}.")
    split = tin.get("SplitType", "None")
    if split not in SPLIT_TYPES:
        raise validation(f"SplitType {split} is not supported by modelport's batch transform; use one of: "
                         f"{', '.join(SPLIT_TYPES)} (RecordIO and TFRecord are not implemented).")
    payload, concurrent = params.get("MaxPayloadInMB"), params.get("MaxConcurrentTransforms")
    if payload is not None and payload > MAX_PAYLOAD_MB:
        raise check.constraint(payload, "maxPayloadInMB", f"Member must have value less than or equal to {MAX_PAYLOAD_MB}")
    if concurrent is not None and concurrent > MAX_CONCURRENT_TRANSFORMS:
        raise check.constraint(concurrent, "maxConcurrentTransforms",
                               f"Member must have value less than or equal to {MAX_CONCURRENT_TRANSFORMS}")
    if payload and concurrent and payload * concurrent > MAX_PAYLOAD_MB:
        raise validation(f"MaxConcurrentTransforms × MaxPayloadInMB must be at most {MAX_PAYLOAD_MB} MB; got "
                         f"{concurrent} × {payload}.")
    env = params.get("Environment")
    check.environment(env, "transformJob")
    if env and len(env) > MAX_ENVIRONMENT:
        raise check.constraint(f"{len(env)} entries", "environment", f"Map must have at most {MAX_ENVIRONMENT} entries")
    check.forbidden_environment(env, "transformJob")
    check.model_server_workers(env, "transformJob", max_model_workers)
    count = params["TransformResources"]["InstanceCount"]
    if count > max_instances:
        raise validation(f"InstanceCount {count} is more than modelport hosting runs for one job: at most "
                         f"{max_instances} (MODELPORT_HOSTING_MAX_INSTANCES_PER_VARIANT).")
    _check_data_processing(params, split)
    try:
        return JobSpec.from_stored(name, params)
    except JsonPathError as exc:
        raise validation(f"DataProcessing: {exc}") from None


def _check_data_processing(params: dict[str, Any], split: str) -> None:
    dp = params.get("DataProcessing") or {}
    content_type = params["TransformInput"].get("ContentType")
    accept = params["TransformOutput"].get("Accept")
    assemble = params["TransformOutput"].get("AssembleWith", "None")
    try:
        input_filter, output_filter = parse(dp.get("InputFilter")), parse(dp.get("OutputFilter"))
    except JsonPathError as exc:
        raise validation(f"DataProcessing: {exc}") from None
    join = dp.get("JoinSource") == "Input"
    kinds = ", ".join(processing.JOINABLE)
    if not input_filter.is_identity and processing.media_type(content_type) not in processing.JOINABLE:
        raise validation(f"DataProcessing.InputFilter needs TransformInput.ContentType to be one of: {kinds} "
                         f"(got {content_type!r}).")
    if (join or not output_filter.is_identity) and processing.media_type(accept) not in processing.JOINABLE:
        raise validation(f"DataProcessing.OutputFilter and JoinSource need TransformOutput.Accept to be one of: "
                         f"{kinds} (got {accept!r}).")
    if join:
        if processing.media_type(content_type) != processing.media_type(accept):
            raise validation(f"JoinSource Input needs TransformInput.ContentType and TransformOutput.Accept to be the "
                             f"same type (got {content_type!r} and {accept!r}).")
        if processing.is_csv(content_type) and (split != "Line" or assemble != "Line"):
            raise validation("JoinSource Input with text/csv needs SplitType Line and AssembleWith Line.")
    active = join or not input_filter.is_identity or not output_filter.is_identity
    if active and split == "Line" and assemble != "Line":
        raise validation("DataProcessing on split records needs TransformOutput.AssembleWith Line (one output line "
                         "per record).")
