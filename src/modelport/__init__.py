"""modelport: take a trained model to a live, tested HTTP endpoint.

The same SageMaker-layout ``model.tar.gz`` runs on this machine (the embedded, SageMaker-compatible
hosting) or on AWS. See ``docs/architecture.md`` for the map of the parts.
"""

__version__ = "0.1.0"
