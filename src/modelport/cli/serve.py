"""``modelport serve``: serve one archive or model directory with the SageMaker container contract."""

from __future__ import annotations

from typing import Optional

import typer


def serve(
    model: str = typer.Argument(
        "/opt/ml/model", help="A model.tar.gz (SageMaker layout) or an unpacked model directory."
    ),
    host: Optional[str] = typer.Option(None, help="Address to bind [env MODELPORT_BIND_HOST; default 127.0.0.1]."),
    port: Optional[int] = typer.Option(None, help="Port [env SAGEMAKER_BIND_TO_PORT; default 8080]."),
    workers: Optional[int] = typer.Option(
        None, min=1, help="Worker processes, each loads the model once [env SAGEMAKER_MODEL_SERVER_WORKERS; default: CPU count]."
    ),
    framework: Optional[str] = typer.Option(
        None, help="Whose default handlers fill in missing functions: auto, sklearn, pytorch, none [env MODELPORT_FRAMEWORK]."
    ),
    install_requirements: Optional[bool] = typer.Option(
        None,
        "--install-requirements/--no-install-requirements",
        help="Install code/requirements.txt into a cached environment layered over this one [env MODELPORT_INSTALL_REQUIREMENTS].",
    ),
) -> None:
    """Serve a model as SageMaker's inference containers do: GET /ping, POST /invocations.

    Handler functions come from code/inference.py (or SAGEMAKER_PROGRAM), with SageMaker's
    defaults for the missing ones. Stop with Ctrl-C.
    """
    from modelport.runtime.serve import run

    raise typer.Exit(
        run(model, host=host, port=port, workers=workers, framework=framework, install_requirements=install_requirements)
    )
