"""Environment readers, as ``sagemaker_inference.environment``."""

import os

DEFAULT_MODULE_NAME = "inference.py"
model_dir = os.path.join(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"), "model")
code_dir = os.path.join(model_dir, "code")


class Environment(object):
    """The serving settings read from SageMaker's environment variables."""

    def __init__(self):
        self._module_name = os.environ.get("SAGEMAKER_PROGRAM", DEFAULT_MODULE_NAME)
        self._model_server_workers = os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS")
        self._default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
        self._inference_http_port = os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080")
        self._model_server_timeout = int(os.environ.get("SAGEMAKER_MODEL_SERVER_TIMEOUT", "60"))

    @property
    def module_name(self):
        name = self._module_name
        return name[:-3] if name.endswith(".py") else name

    @property
    def model_server_workers(self):
        return self._model_server_workers

    @property
    def default_accept(self):
        return self._default_accept

    @property
    def inference_http_port(self):
        return self._inference_http_port

    @property
    def model_server_timeout(self):
        return self._model_server_timeout
