"""modelport's stand-in for ``sagemaker_training`` (used only when it is not installed).

Inference scripts that were also training scripts import it at module top; serving needs only
that the import works and that ``environment.Environment()`` can be read.
"""
