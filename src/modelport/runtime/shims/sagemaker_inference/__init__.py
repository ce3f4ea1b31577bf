"""modelport's stand-in for AWS's ``sagemaker_inference`` (used only when it is not installed)."""
