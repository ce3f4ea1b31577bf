"""``modelport serve``: serve one archive or model directory with the SageMaker container contract."""
