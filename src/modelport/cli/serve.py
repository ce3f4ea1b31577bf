"""``modelport serve``: serve one archive or model directory with the SageMaker container contract."""

from __future__ import annotations

from typing import Optional

import typer

from modelport.runtime.environment import DEFAULT_BATCH_DELAY_MS, MAX_BATCH_DELAY_MS_CAP, MAX_BATCH_SIZE_CAP


def serve(
    model: str = typer.Argument(
        "/opt/ml/model", help="A model.tar.gz (SageMaker layout) or an unpacked model directory."
    ),
    host: Optional[str] = typer.Option(None, help="Address to bind \\[env MODELPORT_BIND_HOST; default 127.0.0.1]."),
    port: Optional[int] = typer.Option(None, help="Port \\[env SAGEMAKER_BIND_TO_PORT; default 8080]."),
    workers: Optional[int] = typer.Option(
        None, min=1, help="Worker processes, each loads the model once \\[env SAGEMAKER_MODEL_SERVER_WORKERS; default: CPU count]."
    ),
    framework: Optional[str] = typer.Option(
        None, help="Whose default handlers fill in missing functions: auto, sklearn, pytorch, none \\[env MODELPORT_FRAMEWORK]."
    ),
    max_batch_size: Optional[int] = typer.Option(
        None, min=1, max=MAX_BATCH_SIZE_CAP,
        help="Adaptive batching: most requests a worker predicts in one call; 1 = off (needs predict_batch_fn, "
        "transform_batch_fn, or the default scikit-learn / PyTorch predict_fn) \\[env MODELPORT_MAX_BATCH_SIZE; default 1].",
    ),
    max_batch_delay_ms: Optional[float] = typer.Option(
        None, min=0, max=MAX_BATCH_DELAY_MS_CAP,
        help="Adaptive batching: longest a request waits for batch mates once requests queue up; a lone request on "
        f"an idle worker never waits \\[env MODELPORT_MAX_BATCH_DELAY_MS; default {DEFAULT_BATCH_DELAY_MS:g}].",
    ),
    multi_model: Optional[str] = typer.Option(
        None, "--multi-model", metavar="DIR",
        help="Serve the models of the folder DIR on request, as SageMaker's multi-model containers: POST /models "
        "loads one, POST /models/NAME/invoke calls it (MODEL is then ignored) \\[env SAGEMAKER_MULTI_MODEL=true].",
    ),
    install_requirements: Optional[bool] = typer.Option(
        None,
        "--install-requirements/--no-install-requirements",
        help="Install code/requirements.txt into a cached environment layered over this one \\[env MODELPORT_INSTALL_REQUIREMENTS].",
    ),
) -> None:
    """Serve a model as SageMaker's inference containers do: GET /ping, POST /invocations.

    Handler functions come from code/inference.py (or SAGEMAKER_PROGRAM), with SageMaker's
    defaults for the missing ones. Stop with Ctrl-C.
    """
    from modelport.runtime.serve import run

    if multi_model is not None:
        model = multi_model
    raise typer.Exit(
        run(model, multi_model=True if multi_model is not None else None, host=host, port=port, workers=workers, framework=framework, install_requirements=install_requirements,
            max_batch_size=max_batch_size, max_batch_delay_ms=max_batch_delay_ms)
    )
