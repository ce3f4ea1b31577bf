"""Chat providers: Amazon Bedrock (Converse), OpenAI-compatible servers, and chat models on SageMaker endpoints.

Each provider turns a validated ``ChatRequest`` into a reply (``complete``) or a stream of
``{"delta": ...}`` events ending with one ``{"done": true, "stopReason", "usage", "model"}`` event
(``stream``), and maps its backend's errors to the gateway's ``ApiError``.
"""
