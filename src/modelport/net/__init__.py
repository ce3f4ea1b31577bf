"""Small networking pieces shared by the servers (runtime, hosting, gateway): no part-specific logic.

- ``upstream``: pooled keep-alive HTTP/1.1 client connections (hosting → runtime, gateway → hosting).
- ``busypoll``: keep an event loop polling briefly after each answer instead of sleeping.
"""
