"""Chat through the gateway: the request (``request``), the streaming plumbing (``stream``), the
OpenAI-compatible shapes (``openai_facade``), the providers (``providers/``) and the HTTP routes (``routes``)."""
