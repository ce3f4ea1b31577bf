"""The model runtime: serve ONE SageMaker-layout model with the inference-container contract.

``modelport serve`` runs a supervisor that binds the port and forks worker processes; each worker is a
complete HTTP server on the shared socket that loads the model once and answers ``GET /ping``,
``POST /invocations`` and ``GET /execution-parameters`` itself (no hop between processes).
The runtime knows nothing of hosting; it could run alone in a SageMaker bring-your-own-container image.
"""
