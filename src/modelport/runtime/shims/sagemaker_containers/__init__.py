"""modelport's stand-in for the legacy ``sagemaker_containers`` (used only when it is not installed)."""
