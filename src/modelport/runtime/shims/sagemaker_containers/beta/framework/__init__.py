"""``sagemaker_containers.beta.framework``: the modules inference scripts import from it."""

from sagemaker_containers.beta.framework import content_types, encoders, env, errors, modules, transformer, worker  # noqa: F401
