"""Deploy the same archives, gateway and page to real AWS (SageMaker, Lambda, API Gateway, S3, Bedrock).

``deploy`` brings a stack to the state its settings describe (idempotent: nothing is created twice),
``status`` reports what exists and its health, ``destroy`` removes everything in dependency order.
All AWS calls go through `modelport.aws.calls.Calls`, which can record them instead (``--plan``).
"""
