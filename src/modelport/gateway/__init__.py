"""The gateway: modelport's public HTTP API as one ASGI app (FastAPI).

The same app runs on modelport's own HTTP server on a laptop (``modelport gateway``, see
``local_server.py``) and under Mangum in AWS Lambda (``lambda_function.lambda_handler`` at the
repository root). It reaches models only through the
SageMaker Runtime API (boto3 ``sagemaker-runtime``): locally ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``
points at modelport's hosting, on AWS it is real SageMaker. It never imports hosting or runtime.

Importing this package is cheap on purpose (Lambda cold starts): build the app with
``modelport.gateway.app.create_app()``.
"""
