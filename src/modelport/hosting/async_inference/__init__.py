"""Asynchronous inference: ``AsyncInferenceConfig`` endpoints, ``InvokeEndpointAsync``, a durable queue in hosting's
database, workers that stream each input through an instance into its ``.out`` (or ``-error.out``) object, the
notification webhook, and the backlog that autoscaling and ``/metrics`` read."""
