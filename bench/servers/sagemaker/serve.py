"""Start SageMaker's own serving stack (sagemaker-inference + multi-model-server) outside a container.

What it needs here, found by reading sagemaker_inference.model_server / environment and mms:
- SAGEMAKER_BASE_DIR: the toolkit reads the model from $SAGEMAKER_BASE_DIR/model (default /opt/ml/model).
- The MMS config path is hard-coded to /etc/sagemaker-mms.properties; it is pointed into the work dir
  here instead. The second patch swaps the toolkit's log4j2.xml for ./log4j2.xml, the same minus the
  per-request log lines. Everything else is the toolkit's real start_model_server().
- `multi-model-server` and `java` on PATH (the venv's bin first), TMPDIR/TEMP private (MMS keeps a
  pid file in the temp dir and refuses to start when another MMS owns it), SAGEMAKER_BIND_TO_PORT,
  SAGEMAKER_MODEL_SERVER_WORKERS, and this folder on PYTHONPATH for `handler_service`.
MMS binds 0.0.0.0 (the toolkit writes that address); the benchmark only talks to 127.0.0.1.
"""
import os

from sagemaker_inference import model_server

model_server.MMS_CONFIG_FILE = os.path.join(os.environ["BENCH_SAGEMAKER_HOME"], "sagemaker-mms.properties")
# Same log config as the toolkit's, minus the per-request lines (no server in the bench logs each request).
model_server.DEFAULT_MMS_LOG_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log4j2.xml")

if __name__ == "__main__":
    model_server.start_model_server(handler_service="handler_service")
