"""SageMaker serving-stack peer: the handler service MMS loads (like the scikit-learn container's).

JSON → numpy (sagemaker_inference.decoder) → predict_proba → JSON (sagemaker_inference.encoder).
MMS needs exactly one top-level class in this module, so the inference handler is nested.
"""
import os

import joblib
from sagemaker_inference import decoder, default_inference_handler, encoder
from sagemaker_inference.default_handler_service import DefaultHandlerService
from sagemaker_inference.transformer import Transformer


class HandlerService(DefaultHandlerService):
    """Handler service with a scikit-learn predict_proba inference handler."""

    class ProbaInferenceHandler(default_inference_handler.DefaultInferenceHandler):
        """model.joblib → predict_proba; the toolkit's own JSON codecs."""

        def default_model_fn(self, model_dir, context=None):
            return joblib.load(os.path.join(model_dir, "model.joblib"))

        def default_input_fn(self, input_data, content_type, context=None):
            return decoder.decode(input_data, content_type)

        def default_predict_fn(self, data, model, context=None):
            return model.predict_proba(data)

        def default_output_fn(self, prediction, accept, context=None):
            return encoder.encode(prediction, accept)

    def __init__(self):
        super().__init__(transformer=Transformer(default_inference_handler=self.ProbaInferenceHandler()))
