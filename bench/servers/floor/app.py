"""HTTP floor: a raw ASGI app that reads the request body and answers a constant JSON body.

No framework, no JSON parsing, no model: what uvicorn itself costs per request on this machine.
"""

BODY = b'{"ok":true}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    """Drain the request body, then send the constant response."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
