"""``sagemaker_containers.beta.framework.transformer``: importable, so scripts that list it load.

The request pipeline itself is modelport's (``modelport.runtime.transformer``).
"""


class Transformer(object):
    """Placeholder type: serving scripts import it but modelport runs the pipeline."""

    def __init__(self, model_fn=None, input_fn=None, predict_fn=None, output_fn=None, transform_fn=None, error_class=None):
        self.model_fn = model_fn
        self.input_fn = input_fn
        self.predict_fn = predict_fn
        self.output_fn = output_fn
        self.transform_fn = transform_fn
