"""``DefaultInferenceHandler``, as in ``sagemaker_inference.default_inference_handler``.

Scripts subclass it to reuse the default input/output functions.
"""

from sagemaker_inference import content_types, decoder, encoder, errors


class DefaultInferenceHandler(object):
    """The toolkit's defaults: no model_fn or predict_fn; JSON/CSV/NPY codecs for input and output."""

    def default_model_fn(self, model_dir, context=None):
        raise NotImplementedError("Please provide a model_fn implementation.")

    def default_input_fn(self, input_data, content_type, context=None):
        return decoder.decode(input_data, content_type)

    def default_predict_fn(self, data, model, context=None):
        raise NotImplementedError("Please provide a predict_fn implementation.")

    def default_output_fn(self, prediction, accept, context=None):
        from modelport.runtime.content_types import parse_accept

        for content_type in parse_accept(accept):
            if content_type in encoder._codecs.ENCODABLE:
                return encoder.encode(prediction, content_type), content_type
        raise errors.UnsupportedFormatError(accept)
