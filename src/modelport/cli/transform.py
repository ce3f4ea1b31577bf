"""`modelport transform`: a batch transform job on local hosting (CreateTransformJob), watched to its end
with a progress bar (records and MB done, ETA)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from modelport.cli.hosting import URL_HELP, _clients, _console, _fail, _reported, env_pairs
from modelport.hosting.deploy import INSTANCE_TYPE


def _is_archive(value: str) -> bool:
    return value.endswith((".tar.gz", ".tgz")) or "/" in value or Path(value).is_file()


def transform(
    model: str = typer.Argument(..., help="A model hosting knows (CreateModel / `modelport deploy`), or a "
                                "model.tar.gz (path, file:// or s3://), registered as a new model first."),
    input_uri: str = typer.Option(..., "--input", "-i", help="Input: a folder, file or prefix (path, file:// or "
                                  "s3://); every object under it is transformed. Local paths must lie under "
                                  "MODELPORT_HOME or MODELPORT_MODEL_ROOTS."),
    output_uri: str = typer.Option(..., "--output", "-o", help="Output folder (path, file:// or s3://): one "
                                   "<input name>.out per input object, as SageMaker writes them."),
    content_type: Optional[str] = typer.Option(None, "--content-type", "-t", help="ContentType of the input "
                                               "(e.g. text/csv, application/jsonlines)."),
    accept: Optional[str] = typer.Option(None, "--accept", "-a", help="Accept: the output type asked of the model."),
    split: str = typer.Option("line", help="SplitType: 'line' (one record per line) or 'none' (one request per object)."),
    strategy: Optional[str] = typer.Option(None, help="BatchStrategy: 'multi' (as many records per request as fit "
                                           "in --max-payload) or 'single' \\[default: the container's, else multi]."),
    max_payload: Optional[int] = typer.Option(None, "--max-payload", min=0, max=100, help="MaxPayloadInMB per request "
                                              "\\[default: the container's, else 6]."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", "-c", min=0, max=100, help="MaxConcurrentTransforms: "
                                              "requests in flight per instance \\[default: the container's workers]."),
    assemble: Optional[str] = typer.Option(None, help="AssembleWith: 'line' (a newline after each answer) or 'none' "
                                           "\\[default: line when --split line]."),
    gzip: bool = typer.Option(False, "--gzip", help="CompressionType Gzip: every input object is gzip-compressed."),
    manifest: bool = typer.Option(False, "--manifest", help="--input is a manifest file ([{\"prefix\": ...}, \"name\", ...])."),
    input_filter: Optional[str] = typer.Option(None, help="DataProcessing.InputFilter, a JSONPath such as '$[1:]'."),
    output_filter: Optional[str] = typer.Option(None, help="DataProcessing.OutputFilter, a JSONPath such as '$[0,-1]'."),
    join: bool = typer.Option(False, "--join", help="JoinSource Input: write each input record with its output."),
    instances: int = typer.Option(1, "--instances", "-n", min=1, help="InstanceCount: runtime processes to run."),
    instance_type: str = typer.Option(INSTANCE_TYPE, help="InstanceType recorded with the job."),
    env: List[str] = typer.Option([], "--env", help="KEY=VALUE for the job's Environment (repeatable)."),
    job_name: Optional[str] = typer.Option(None, "--job-name", help="TransformJobName \\[default: transform-<time>]."),
    wait: bool = typer.Option(True, help="Watch the job until it ends (Ctrl-C stops it)."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
) -> None:
    """Run a batch transform job on local hosting, as SageMaker's CreateTransformJob does.

    Every object under --input is read as a stream, split into records (--split line), packed into
    requests (--strategy, --max-payload) and sent to instances of the model, --concurrency requests
    at a time per instance; each object's answers are written in record order to <output>/<name>.out.
    A record the model refuses fails the job, naming the object and line.

    Example: modelport transform model.tar.gz -i data/ -o out/ -t text/csv -a text/csv
    """
    from modelport.hosting.deploy import DeployError, register_model, unique_name
    from modelport.hosting.settings import get_hosting_settings
    from modelport.hosting.transform.client import TransformOptions, location, progress_of
    from modelport.store import StoreError
    from modelport.token import hosting_token

    environment = env_pairs(env)
    split_type = {"line": "Line", "none": "None"}.get(split.lower())
    if split_type is None:
        _fail(f"--split must be 'line' or 'none', got {split!r}")
    chosen_strategy = None
    if strategy is not None:
        chosen_strategy = {"multi": "MultiRecord", "single": "SingleRecord"}.get(strategy.lower())
        if chosen_strategy is None:
            _fail(f"--strategy must be 'multi' or 'single', got {strategy!r}")
    assemble_with = {"line": "Line", "none": "None", None: split_type}.get(assemble.lower() if assemble else None)
    if assemble_with is None:
        _fail(f"--assemble must be 'line' or 'none', got {assemble!r}")
    sm, _ = _clients(url)
    name = job_name or unique_name("transform")
    model_name = model
    if _is_archive(model):
        model_name = unique_name("transform-model")
        with _reported():
            try:
                register_model(sm, model_name, model)
            except (DeployError, StoreError) as exc:
                _fail(str(exc))
    options = TransformOptions(
        job_name=name, model_name=model_name, input_uri=location(input_uri), output_uri=location(output_uri),
        content_type=content_type, manifest=manifest, split=split_type, gzip=gzip, strategy=chosen_strategy,
        max_payload_mb=max_payload, concurrency=concurrency, accept=accept, assemble=assemble_with,
        input_filter=input_filter, output_filter=output_filter, join=join, instances=instances,
        instance_type=instance_type, environment=environment)
    with _reported():
        sm.create_transform_job(**options.request())
    if not wait:
        print(f"transform job {name} started; check with `aws sagemaker describe-transform-job "
              f"--transform-job-name {name}` (after `eval \"$(modelport env)\"`)")
        return
    hosting_url = url or get_hosting_settings().url
    progress = lambda: progress_of(hosting_url, hosting_token(), name)  # noqa: E731
    started = time.monotonic()
    described = _watch(sm, name, progress)
    status = described["TransformJobStatus"]
    if status == "Failed":
        _fail(f"transform job {name} failed: {described.get('FailureReason', 'no reason given')}")
    done = progress()
    print(f"transform job {name} {status}: {done.get('RecordsDone', 0):,} records, {done.get('BytesDone', 0) / 2**20:.2f} "
          f"MB in {time.monotonic() - started:.1f} s; outputs under {options.output_uri}")
    if status != "Completed":
        raise typer.Exit(1)


def _watch(sm, name: str, progress):
    """Watch with a bar of MB read, records done and the ETA; Ctrl-C stops the job."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from modelport.hosting.transform.client import watch
    from modelport.progress import elapsed
    from modelport.progress import progress as show

    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.fields[MB]} MB, {task.fields[records]} records, ETA {task.fields[ETA]}"),
               TimeElapsedColumn())
    started = time.monotonic()
    with show(f"transform job {name}", total=None, unit="MB", columns=columns,
              fields={"records": 0, "MB": "0/?", "ETA": "?"}, every=2.0) as tracker:
        def update(doc: dict) -> None:
            total, done = doc.get("BytesTotal", 0) / 2**20, doc.get("BytesDone", 0) / 2**20
            eta = "?"
            if done and total and doc.get("Phase") == "transforming":
                eta = elapsed((time.monotonic() - started) * (total - done) / done)
            tracker.update(completed=done, total=total or None, records=f"{doc.get('RecordsDone', 0):,}",
                           MB=f"{done:.2f}/{total:.2f}", ETA=eta,
                           description=f"transform job {name} ({doc.get('Phase', doc.get('TransformJobStatus', '…'))})")

        try:
            with _reported():
                return watch(sm, name, progress, update)
        except KeyboardInterrupt:
            _console().print(f"stopping transform job {name} …")
            with _reported():
                sm.stop_transform_job(TransformJobName=name)
                return watch(sm, name)
