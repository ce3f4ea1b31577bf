"""Chat through the gateway: the HTTP routes (``routes``), which provider answers (``provider_choice``),
the client's request checked and repaired (``request``), the streaming plumbing (``stream``), the
OpenAI-compatible shapes (``openai_facade``) and the providers (``providers/``)."""
