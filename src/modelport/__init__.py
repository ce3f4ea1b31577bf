"""modelport: take a trained model to a live, tested HTTP endpoint.

The same SageMaker-layout ``model.tar.gz`` runs on this machine (the embedded, SageMaker-compatible
hosting) or on AWS. See ``docs/architecture.md`` for the map of the parts.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``modelport.Model`` / ``modelport.Predictor``, imported on first use (keeps imports cheap)."""
    if name in ("Model", "Predictor"):
        from modelport import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'modelport' has no attribute {name!r}")
