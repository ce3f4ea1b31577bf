"""`modelport pack` and `modelport check`: build and validate SageMaker-layout archives."""
