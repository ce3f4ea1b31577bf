"""``sagemaker_training.environment``: the SM_* training variables, with serving-time defaults."""

import json
import os

base_dir = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
model_dir = os.environ.get("SM_MODEL_DIR", os.path.join(base_dir, "model"))
output_data_dir = os.environ.get("SM_OUTPUT_DATA_DIR", os.path.join(base_dir, "output", "data"))


class Environment(object):
    """What a training script reads about its job; outside a training job, the defaults."""

    def __init__(self):
        self.model_dir = model_dir
        self.output_data_dir = output_data_dir
        self.hyperparameters = json.loads(os.environ.get("SM_HPS", "{}"))
        self.channel_input_dirs = json.loads(os.environ.get("SM_CHANNELS_DIRS", "{}")) if os.environ.get("SM_CHANNELS_DIRS") else {}
        self.hosts = json.loads(os.environ.get("SM_HOSTS", '["algo-1"]'))
        self.current_host = os.environ.get("SM_CURRENT_HOST", "algo-1")
        self.num_gpus = int(os.environ.get("SM_NUM_GPUS", "0"))
        self.num_cpus = int(os.environ.get("SM_NUM_CPUS", os.cpu_count() or 1))
