"""The whole system on one machine: ``modelport up`` / ``status`` / ``down``.

``up`` checks the machine, trains the bundled models when their archives are missing or stale,
starts hosting, deploys the bundled endpoints idempotently, starts the gateway with the page, and
prints where everything is. It owns its child processes: Ctrl-C or SIGTERM stops them all.
"""
