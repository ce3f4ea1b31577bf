"""AWS Lambda entry point of the modelport gateway: ``lambda_function.lambda_handler``.

API Gateway (REST or HTTP API, Lambda proxy integration) calls ``lambda_handler(event, context)``; the
same ASGI app that ``modelport gateway`` serves locally answers it through Mangum. Configuration comes
from the function's environment variables (routes, CORS, keys, limits); boto3 is loaded on the first
model call, not here, to keep cold starts short.
"""

from modelport.gateway.app import create_app
from modelport.gateway.aws_lambda import make_handler

app = create_app()
lambda_handler = make_handler(app)
