"""Environment readers, as ``sagemaker_containers.beta.framework.env``."""

import os

base_dir = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
model_dir = os.path.join(base_dir, "model")
code_dir = os.path.join(base_dir, "code")


def read_hyperparameters():
    """No training job here: no hyperparameters."""
    return {}


class ServingEnv(object):
    """The serving settings from SageMaker's environment variables."""

    def __init__(self):
        self.module_name = os.environ.get("SAGEMAKER_PROGRAM", "inference.py").replace(".py", "")
        self.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
        self.http_port = os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080")
        self.model_server_timeout = int(os.environ.get("SAGEMAKER_MODEL_SERVER_TIMEOUT", "60"))
        self.model_server_workers = int(os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS", os.cpu_count() or 1))
